/**
 * GET over node:http / node:https with the fetch signature the control-plane client uses. A
 * following runtime sends one long poll per `waitSeconds` and a few usage reads a minute, and the
 * global fetch (undici) costs several times more CPU per request than node:http in an otherwise
 * idle process; following must cost an idle runtime next to nothing. Connections are kept alive
 * (the long poll reuses its socket) by one agent per protocol. The answer's body is read whole
 * before it is returned: control answers are small and the client caps them anyway.
 */
import http from "node:http";
import https from "node:https";

const agents = {
  "http:": new http.Agent({ keepAlive: true, maxSockets: 4 }),
  "https:": new https.Agent({ keepAlive: true, maxSockets: 4 }),
};

/**
 * A GET with `init.headers` and `init.signal`; resolves with a Response holding the whole body. A
 * kept-alive socket the server closed just as it was reused (ECONNRESET on a reused socket) is
 * retried once on a new one, as Node's documentation advises.
 */
export async function nodeHttpGet(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  try {
    return await getOnce(input, init);
  } catch (error) {
    if (error instanceof StaleSocketError) return getOnce(input, init);
    throw error;
  }
}

class StaleSocketError extends Error {}

function getOnce(input: string | URL | Request, init: RequestInit): Promise<Response> {
  const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
  const protocol = url.protocol === "https:" ? "https:" : "http:";
  const request = protocol === "https:" ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const signal = init.signal ?? undefined;
    if (signal?.aborted) return reject(signal.reason);
    const req = request(url, { method: "GET", headers: toRecord(init.headers), agent: agents[protocol] }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        signal?.removeEventListener("abort", onAbort);
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
        }
        const status = res.statusCode ?? 502;
        const noBody = status === 204 || status === 304;
        resolve(new Response(noBody ? null : Buffer.concat(chunks), { status, headers }));
      });
      res.on("error", fail);
    });
    function fail(error: Error): void {
      signal?.removeEventListener("abort", onAbort);
      if (req.reusedSocket && (error as NodeJS.ErrnoException).code === "ECONNRESET") return reject(new StaleSocketError(error.message));
      reject(new TypeError("fetch failed", { cause: error }));
    }
    function onAbort(): void {
      req.destroy();
      reject(signal!.reason);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    req.on("error", fail);
    req.end();
  });
}

function toRecord(headers: RequestInit["headers"]): Record<string, string> {
  if (headers === undefined) return {};
  if (headers instanceof Headers) return Object.fromEntries(headers.entries());
  if (Array.isArray(headers)) return Object.fromEntries(headers);
  return { ...(headers as Record<string, string>) };
}

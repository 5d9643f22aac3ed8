// An HTTP proxy in front of a collector for tests: it forwards every request to the current upstream
// and can send a request there several times, as an exporter that retries after a lost answer
// would. While the upstream is down (a killed collector) it answers 503 with Retry-After, so the
// OpenTelemetry exporters retry as they do against a collector behind a load balancer.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** Options of the proxy. */
export interface ReplayingProxyOptions {
  /** Where requests go; change it with `setUpstream` (e.g. after a collector restart). */
  upstream: string;
  /** How many times a request whose path matches is sent upstream (the first answer is returned). */
  sendTimes?: (path: string) => number;
}

/** A running proxy. */
export interface ReplayingProxy {
  readonly url: string;
  setUpstream(url: string | undefined): void;
  /** Requests sent upstream per path, and those answered 503 because the upstream was down. */
  readonly counts: { sent: Map<string, number>; refused: number };
  close(): Promise<void>;
}

/** Headers of one connection, not of the request: never forwarded. */
const HOP_BY_HOP = new Set(["host", "connection", "content-length", "transfer-encoding", "keep-alive", "upgrade", "te", "trailer", "proxy-connection"]);

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Starts a proxy on a free loopback port. */
export async function startReplayingProxy(options: ReplayingProxyOptions): Promise<ReplayingProxy> {
  let upstream: string | undefined = options.upstream;
  const counts = { sent: new Map<string, number>(), refused: 0 };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readAll(req);
    const path = req.url ?? "/";
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string" && !HOP_BY_HOP.has(k)) headers[k] = v;
    const times = options.sendTimes?.(path) ?? 1;
    let first: { status: number; type: string; body: Buffer } | undefined;
    for (let i = 0; i < times; i++) {
      if (upstream === undefined) break;
      try {
        const answer = await fetch(`${upstream}${path}`, { method: req.method, headers, body: req.method === "GET" || req.method === "HEAD" ? undefined : new Uint8Array(body) });
        const answerBody = Buffer.from(await answer.arrayBuffer());
        counts.sent.set(path, (counts.sent.get(path) ?? 0) + 1);
        first ??= { status: answer.status, type: answer.headers.get("content-type") ?? "application/octet-stream", body: answerBody };
      } catch {
        break;
      }
    }
    if (first === undefined) {
      counts.refused++;
      res.writeHead(503, { "retry-after": "1", "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "unavailable", message: "the collector behind this proxy is down" } }));
      return;
    }
    res.writeHead(first.status, { "content-type": first.type });
    res.end(first.body);
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setUpstream: (url) => {
      upstream = url;
    },
    counts,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

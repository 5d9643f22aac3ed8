import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** Bytes of an answer's body kept at most: an ExportTraceServiceResponse or an error Status is small (the rest is read and discarded). */
export const MAX_ANSWER_BYTES = 64 * 1024;

/** An HTTP answer, its body cut to MAX_ANSWER_BYTES. */
export interface HttpAnswer {
  status: number;
  contentType: string;
  retryAfter: string | undefined;
  body: Buffer;
}

/**
 * POSTs request bodies to one URL (http or https) over kept-alive connections, at most
 * `maxSockets` at once. The body is written as it is (no copy: a request may be handed a view of a
 * reused buffer, valid until its promise settles). A request rejects on a network error, after
 * `timeoutMs` without a whole answer, or when `stop()` is called (requests in flight are destroyed).
 */
export class HttpPoster {
  readonly #url: URL;
  readonly #headers: Record<string, string>;
  readonly #agent: HttpAgent;
  readonly #request: (options: RequestOptions, callback: (res: IncomingMessage) => void) => ClientRequest;
  readonly #inFlight = new Set<ClientRequest>();
  #stopped = false;

  constructor(url: string, headers: Record<string, string>, maxSockets: number) {
    this.#url = new URL(url);
    this.#headers = headers;
    const https = this.#url.protocol === "https:";
    this.#agent = https ? new HttpsAgent({ keepAlive: true, maxSockets }) : new HttpAgent({ keepAlive: true, maxSockets });
    this.#request = https ? httpsRequest : httpRequest;
  }

  /** POSTs one body, given as its parts in order (sent as they are, not joined). */
  post(body: readonly Buffer[], timeoutMs: number): Promise<HttpAnswer> {
    if (this.#stopped) return Promise.reject(new Error("the collector is stopping"));
    return new Promise((resolve, reject) => {
      const req = this.#request(
        {
          protocol: this.#url.protocol,
          hostname: this.#url.hostname,
          port: this.#url.port,
          path: `${this.#url.pathname}${this.#url.search}`,
          method: "POST",
          agent: this.#agent,
          headers: { ...this.#headers, "content-length": String(body.reduce((n, part) => n + part.length, 0)) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let kept = 0;
          res.on("data", (chunk: Buffer) => {
            if (kept < MAX_ANSWER_BYTES) chunks.push(chunk.subarray(0, MAX_ANSWER_BYTES - kept));
            kept += chunk.length;
          });
          res.on("end", () => {
            done();
            const retryAfter = res.headers["retry-after"];
            resolve({ status: res.statusCode ?? 0, contentType: res.headers["content-type"] ?? "", retryAfter, body: Buffer.concat(chunks) });
          });
          res.on("error", fail);
        },
      );
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#inFlight.delete(req);
      };
      function fail(err: Error): void {
        done();
        reject(err);
      }
      req.on("error", fail);
      this.#inFlight.add(req);
      for (let i = 0; i < body.length - 1; i++) req.write(body[i]);
      req.end(body[body.length - 1]);
    });
  }

  /** Destroys the requests in flight (they reject) and the kept-alive connections; later posts reject. */
  stop(): void {
    this.#stopped = true;
    for (const req of this.#inFlight) req.destroy(new Error("the collector is stopping"));
    this.#agent.destroy();
  }
}

import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { serve, type Http2Bindings, type HttpBindings } from "@hono/node-server";
import type { Hono } from "hono";
import { attachSocketBody, bodyBudgetExceeded } from "./socket-body.js";

/** A listening HTTP server. */
export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:4318 */
  url: string;
  port: number;
  /** Stops accepting connections and resolves once open requests have been answered. */
  close(): Promise<void>;
}

/** What slow or greedy clients can hold of the server. Defaults: DEFAULT_CONNECTION_LIMITS. */
export interface ConnectionLimits {
  /** A request's head must arrive within this, else 408 and the connection closes (Node's headersTimeout). */
  headersTimeoutMs: number;
  /**
   * A whole request, head and body, must arrive within this, else 408 and the connection closes
   * (Node's requestTimeout): the body deadline. At least headersTimeoutMs.
   */
  requestTimeoutMs: number;
  /** An idle keep-alive connection closes after this. */
  keepAliveTimeoutMs: number;
  /** Connections open at once; further ones are closed as they are accepted. */
  maxConnections: number;
  /**
   * Request body bytes held across all requests at once (on the wire, before gunzip). A request
   * whose declared length does not fit in what remains, or whose body (chunked) reads past it, is
   * answered 503 `overloaded` with Retry-After before its body is buffered.
   */
  maxInflightBodyBytes: number;
}

/**
 * 10 s for a head, 30 s for a whole request (an 8 MiB body needs ~280 KB/s), 5 s keep-alive idle,
 * 1024 connections, 128 MiB of bodies in flight (sixteen bodies of the default 8 MiB bound).
 */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1024,
  maxInflightBodyBytes: 128 * 1024 * 1024,
};

/** A request whose body stopped arriving: the client closed mid-body, or the body deadline cut it. */
export interface AbortedRequest {
  method: string;
  path: string;
  /** Content-Length, when declared. */
  declaredBytes?: number;
  elapsedMs: number;
}

/** How `listen` bounds its clients. */
export interface ListenOptions {
  limits?: Partial<ConnectionLimits>;
  /** Told once about each request whose body stopped arriving. */
  onAbortedRequest?: (request: AbortedRequest) => void;
  /**
   * Paths whose routes read their bodies with readBody (the OTLP ingest routes): those bodies are
   * read from the socket, each chunk taken from the budget as it arrives (http/socket-body.ts). The
   * bodies of other paths go through a metered web stream.
   */
  socketBodyPaths?: ReadonlySet<string>;
}

/**
 * Body bytes in flight across all requests, never past `maxBytes`. Nothing waits for room: a
 * request that does not fit is refused at once, and its client retries.
 */
class BodyBudget {
  #usedBytes = 0;

  constructor(readonly maxBytes: number) {}

  /** Bytes taken and not yet given back. */
  get usedBytes(): number {
    return this.#usedBytes;
  }

  /** Takes `bytes` if they fit in what remains; otherwise takes nothing and answers false. */
  tryTake(bytes: number): boolean {
    if (this.#usedBytes + bytes > this.maxBytes) return false;
    this.#usedBytes += bytes;
    return true;
  }

  give(bytes: number): void {
    this.#usedBytes -= bytes;
  }
}

/**
 * Serves `app` on `hostname:port` (port 0 picks a free port) with @hono/node-server, within the
 * connection limits: heads and whole requests must arrive in time, connections are capped, and body
 * bytes in flight stay within one BodyBudget (each request's share held until its response ends or
 * its connection closes).
 */
export function listen(app: Hono, port: number, hostname = "0.0.0.0", options: ListenOptions = {}): Promise<RunningServer> {
  const limits: ConnectionLimits = { ...DEFAULT_CONNECTION_LIMITS, ...options.limits };
  const budget = new BodyBudget(limits.maxInflightBodyBytes);
  const fetch = (request: Request, env: HttpBindings | Http2Bindings): Response | Promise<Response> => {
    // HTTP/1 only: serve creates a node:http server.
    const { incoming, outgoing } = env as HttpBindings;
    const lengthHeader = incoming.headers["content-length"];
    const chunked = incoming.headers["transfer-encoding"] !== undefined;
    // No body declared: nothing to hold. (`request.body` is read only where the body is metered:
    // touching it makes @hono/node-server stream the body, and a refused request's unread rest
    // would then close the connection under a client still sending.)
    if (lengthHeader === undefined && !chunked) return app.fetch(request, env);
    const startedMs = Date.now();
    const declared = chunked ? Number.NaN : Number(lengthHeader);
    let heldBytes = 0;
    outgoing.once("close", () => {
      budget.give(heldBytes);
      heldBytes = 0;
      if (!incoming.complete && !outgoing.writableFinished) {
        options.onAbortedRequest?.({
          method: incoming.method ?? "",
          path: (incoming.url ?? "").split("?")[0] ?? "",
          ...(Number.isSafeInteger(declared) ? { declaredBytes: declared } : {}),
          elapsedMs: Date.now() - startedMs,
        });
      }
    });
    const fromSocket = options.socketBodyPaths?.has((incoming.url ?? "").split("?")[0] ?? "") === true;
    if (Number.isSafeInteger(declared) && declared <= budget.maxBytes) {
      if (!budget.tryTake(declared)) return app.fetch(withBody(request, refusedBody()), env);
      heldBytes = declared;
      if (fromSocket) attachSocketBody(request, { incoming, take: () => true });
      return app.fetch(request, env);
    }
    // Length unknown (chunked), or more than the whole budget (readBody refuses what is over its bound unread): taken as it arrives.
    const take = (bytes: number): boolean => {
      if (!budget.tryTake(bytes)) return false;
      heldBytes += bytes;
      return true;
    };
    if (fromSocket) {
      attachSocketBody(request, { incoming, take });
      return app.fetch(request, env);
    }
    const body = request.body;
    if (!body) return app.fetch(request, env);
    return app.fetch(withBody(request, meteredBody(body, take)), env);
  };
  return new Promise((resolve, reject) => {
    const server = serve(
      {
        fetch,
        port,
        hostname,
        serverOptions: {
          headersTimeout: limits.headersTimeoutMs,
          requestTimeout: limits.requestTimeoutMs,
          // Node checks both timeouts on this interval (30 s by default: a 10 s deadline then held up to 40 s).
          connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
        },
      },
      (info: AddressInfo) => {
        const host = hostname === "0.0.0.0" || hostname === "::" ? "127.0.0.1" : hostname;
        resolve({
          url: `http://${host.includes(":") ? `[${host}]` : host}:${info.port}`,
          port: info.port,
          close: () =>
            new Promise<void>((done, fail) => {
              (server as Server).close((err) => (err ? fail(err) : done()));
              (server as Server).closeIdleConnections?.();
            }),
        });
      },
    ) as Server;
    // Also keeps idle keep-alive connections from exporters from holding shutdown open.
    server.keepAliveTimeout = limits.keepAliveTimeoutMs;
    server.maxConnections = limits.maxConnections;
    server.once("error", reject);
  });
}

/** The request with another body stream (the route reads it as usual). */
function withBody(request: Request, body: ReadableStream<Uint8Array>): Request {
  return new Request(request, { body, duplex: "half" } as RequestInit);
}

/** A body whose first read fails with 503 overloaded; the real body stays unread. */
function refusedBody(): ReadableStream<Uint8Array> {
  return new ReadableStream({ pull: (controller) => controller.error(bodyBudgetExceeded()) });
}

/** `source`, each chunk taken from the budget as it arrives; past the budget the read fails with 503 overloaded. */
function meteredBody(source: ReadableStream<Uint8Array>, take: (bytes: number) => boolean): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream({
    async pull(controller) {
      reader ??= source.getReader();
      const { done, value } = await reader.read();
      if (done) controller.close();
      // Not cancelling the source: that would close the connection before the 503 is written.
      else if (!take(value.byteLength)) controller.error(bodyBudgetExceeded());
      else controller.enqueue(value);
    },
    cancel: (reason) => (reader ? reader.cancel(reason) : source.cancel(reason)),
  });
}

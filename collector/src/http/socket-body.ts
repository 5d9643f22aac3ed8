import type { IncomingMessage } from "node:http";
import { CollectorError } from "../errors.js";

/**
 * A request body to read straight from Node's IncomingMessage rather than through the web-streams
 * adapter (a sixth of the main thread's busy time on JSON ingest, whose bodies are three times the
 * size of protobuf's). The server attaches one to the requests of the paths whose routes read their
 * bodies with readBody (ingest/read-body.ts), with the in-flight body budget each chunk is taken from.
 */
export interface SocketBody {
  readonly incoming: IncomingMessage;
  /** Takes `bytes` from the server's in-flight body budget; false when they do not fit (the read then fails with bodyBudgetExceeded). */
  take(bytes: number): boolean;
}

const bodies = new WeakMap<Request, SocketBody>();

/** Lets readBody read `request`'s body from the socket. */
export function attachSocketBody(request: Request, body: SocketBody): void {
  bodies.set(request, body);
}

/** The socket body attached to `request`, if it can still be read from the socket (nothing read its body yet). */
export function socketBodyOf(request: Request): SocketBody | undefined {
  const body = bodies.get(request);
  if (!body || body.incoming.readableDidRead || body.incoming.listenerCount("data") > 0) return undefined;
  return body;
}

/** The answer to a body that does not fit in the server's in-flight budget: 503, retry shortly. */
export function bodyBudgetExceeded(): CollectorError {
  return new CollectorError("overloaded", "request bodies in flight are at the collector's bound; retry later", { retryAfterS: 1 });
}

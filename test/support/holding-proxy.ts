// A stand-in for the collector on loopback, for tests of how the console behaves when the
// collector is slow or down. It forwards every request to the real collector, except those a test
// holds: they get no answer until released (a collector too busy to answer); and it can stop
// accepting connections altogether (a collector that is down: connection refused).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** Requests held on one path. */
export interface Hold {
  /** Requests waiting for `release` right now. */
  readonly waiting: number;
  /** Requests held so far (waiting or released). */
  readonly seen: number;
  /** Resolves once at least one request waits. */
  whenWaiting(): Promise<void>;
  /** Sends the waiting requests (and any later ones) on to the collector; the hold ends. */
  release(): void;
}

/** A running stand-in. */
export interface HoldingProxy {
  readonly url: string;
  /** Holds every GET whose path (without the query) is `path`, until released. */
  hold(path: string): Hold;
  /** Closes the port and every open connection: new requests are refused until `acceptConnections`. */
  refuseConnections(): Promise<void>;
  /** Listens again, on the same port. */
  acceptConnections(): Promise<void>;
  close(): Promise<void>;
}

/** Headers of one connection, not of the request: never forwarded. fetch decodes bodies, so no encoding header either. */
const HOP_BY_HOP = new Set(["host", "connection", "content-length", "transfer-encoding", "keep-alive", "upgrade", "te", "trailer", "proxy-connection", "content-encoding"]);

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Starts the stand-in on a free loopback port, forwarding to `upstream`. */
export async function startHoldingProxy(upstream: string): Promise<HoldingProxy> {
  const holds = new Map<string, { waiters: Array<() => void>; seen: number; onWait: Array<() => void>; released: boolean }>();

  const forward = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readAll(req);
    const path = req.url ?? "/";
    const hold = req.method === "GET" ? holds.get(new URL(path, "http://x").pathname) : undefined;
    if (hold && !hold.released) {
      hold.seen++;
      await new Promise<void>((release) => {
        hold.waiters.push(release);
        for (const w of hold.onWait.splice(0)) w();
      });
    }
    if (res.destroyed) return;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string" && !HOP_BY_HOP.has(k)) headers[k] = v;
    try {
      const answer = await fetch(`${upstream}${path}`, { method: req.method, headers, body: req.method === "GET" || req.method === "HEAD" ? undefined : new Uint8Array(body) });
      const out: Record<string, string> = {};
      answer.headers.forEach((v, k) => {
        if (!HOP_BY_HOP.has(k)) out[k] = v;
      });
      const answerBody = Buffer.from(await answer.arrayBuffer());
      if (res.destroyed) return;
      res.writeHead(answer.status, out);
      res.end(answerBody);
    } catch {
      if (!res.destroyed) res.writeHead(502).end();
    }
  };

  const server = createServer((req, res) => {
    forward(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    hold(path) {
      const state = { waiters: [] as Array<() => void>, seen: 0, onWait: [] as Array<() => void>, released: false };
      holds.set(path, state);
      return {
        get waiting() {
          return state.waiters.length;
        },
        get seen() {
          return state.seen;
        },
        whenWaiting: () => (state.waiters.length > 0 ? Promise.resolve() : new Promise<void>((r) => state.onWait.push(r))),
        release() {
          state.released = true;
          if (holds.get(path) === state) holds.delete(path);
          for (const w of state.waiters.splice(0)) w();
        },
      };
    },
    async refuseConnections() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    },
    async acceptConnections() {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => {
          server.off("error", reject);
          resolve();
        });
      });
    },
    async close() {
      for (const state of holds.values()) for (const w of state.waiters.splice(0)) w();
      holds.clear();
      if (!server.listening) return;
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    },
  };
}

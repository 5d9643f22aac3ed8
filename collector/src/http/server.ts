import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import type { Hono } from "hono";

/** A listening HTTP server. */
export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:4318 */
  url: string;
  port: number;
  /** Stops accepting connections and resolves once open requests have been answered. */
  close(): Promise<void>;
}

/** Serves `app` on `hostname:port` (port 0 picks a free port) with @hono/node-server. */
export function listen(app: Hono, port: number, hostname = "0.0.0.0"): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname }, (info: AddressInfo) => {
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
    }) as Server;
    // Keep-alive connections from exporters must not hold shutdown open.
    server.keepAliveTimeout = 5_000;
    server.once("error", reject);
  });
}

// `troupe console`: serves the built Next.js console in this process (so it stops with it).
import { createServer } from "node:http";
import { join } from "node:path";
import { ensureConsoleBuilt, root } from "../lib/build.mjs";
import { collectorUrl, port } from "../lib/config.mjs";
import { exitWithParent } from "../lib/supervisor.mjs";

export async function consoleCommand(options) {
  const listenPort = port(options.port ?? process.env.TROUPE_CONSOLE_PORT, "--port", 3000);
  const host = options.host ?? "127.0.0.1";
  process.env.TROUPE_COLLECTOR_URL = collectorUrl(options.collectorUrl);
  process.env.NEXT_TELEMETRY_DISABLED = "1";
  process.env.NODE_ENV = "production";
  ensureConsoleBuilt();

  const { default: next } = await import("next");
  const app = next({ dev: false, dir: join(root, "console"), hostname: host, port: listenPort });
  await app.prepare();
  const handle = app.getRequestHandler();
  const server = createServer((req, res) => handle(req, res));
  await new Promise((resolve, reject) => {
    server.once("error", (err) =>
      reject(err.code === "EADDRINUSE" ? new Error(`port ${listenPort} is in use: set TROUPE_CONSOLE_PORT or --port`) : err),
    );
    server.listen(listenPort, host, resolve);
  });
  console.error(`console listening on http://${host}:${listenPort} (collector ${process.env.TROUPE_COLLECTOR_URL})`);

  const stop = (reason) => {
    console.error(`console: ${reason}; stopping`);
    server.close(() => process.exit(0));
    server.closeAllConnections?.();
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  exitWithParent(process.env, () => stop("parent process gone"));
}

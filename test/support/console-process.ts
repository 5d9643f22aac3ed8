// The built console served by `next start`, as its own process (the console must be built: the
// suite's global setup builds it). Tests that restart it, or run two, start it here.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { freePort } from "./free-port.js";

const ROOT = join(import.meta.dirname, "..", "..");

/** A running console process. */
export interface ConsoleProcess {
  readonly url: string;
  readonly port: number;
  /** Stops the process (SIGTERM) and resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts `next start` against `collectorUrl` (`env` added to its environment; on `port`, default a
 * free one) and resolves once it answers /healthz.
 */
export async function startConsoleProcess(collectorUrl: string, env: Record<string, string> = {}, port?: number): Promise<ConsoleProcess> {
  const listenPort = port ?? (await freePort());
  const url = `http://127.0.0.1:${listenPort}`;
  const next = spawn(process.execPath, [join(ROOT, "node_modules/next/dist/bin/next"), "start", "-p", String(listenPort), "-H", "127.0.0.1"], {
    cwd: join(ROOT, "console"),
    env: { ...process.env, NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1", TROUPE_COLLECTOR_URL: collectorUrl, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  next.stdout!.on("data", (d) => (log += d));
  next.stderr!.on("data", (d) => (log += d));
  const stop = async (): Promise<void> => {
    if (next.exitCode !== null || next.signalCode !== null) return;
    next.kill("SIGTERM");
    await new Promise((r) => next.once("exit", r));
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) break;
    if (next.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`next start did not answer within 60 s\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, port: listenPort, stop };
}

// The built console served by `next start` against a collector, and a headless Chromium to drive
// it: what every browser test of the console starts (the console must be built: the suite's global
// setup builds it).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { freePort } from "./free-port.js";

const ROOT = join(import.meta.dirname, "..", "..");
const CHROMIUM = "/usr/bin/chromium";

/** A running console and browser. */
export interface ConsoleInBrowser {
  readonly consoleUrl: string;
  readonly browser: Browser;
  /** Closes the browser and stops the console. */
  close(): Promise<void>;
}

/** Starts the console against `collectorUrl` (`env` added to its environment) and Chromium; resolves once the console answers. */
export async function startConsoleInBrowser(collectorUrl: string, env: Record<string, string> = {}): Promise<ConsoleInBrowser> {
  const port = await freePort();
  const consoleUrl = `http://127.0.0.1:${port}`;
  const next = spawn(process.execPath, [join(ROOT, "node_modules/next/dist/bin/next"), "start", "-p", String(port), "-H", "127.0.0.1"], {
    cwd: join(ROOT, "console"),
    env: { ...process.env, NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1", TROUPE_COLLECTOR_URL: collectorUrl, TROUPE_CONSOLE_SECRET: randomBytes(32).toString("hex"), ...env },
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
    if (await fetch(`${consoleUrl}/healthz`).then((r) => r.ok, () => false)) break;
    if (next.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`next start did not answer within 60 s\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  return {
    consoleUrl,
    browser,
    close: async () => {
      await browser.close();
      await stop();
    },
  };
}

// The built console served by `next start` against a collector, and a headless Chromium to drive
// it: what every browser test of the console starts (the console must be built: the suite's global
// setup builds it).
import { randomBytes } from "node:crypto";
import { chromium, type Browser } from "playwright-core";
import { startConsoleProcess } from "./console-process.js";
import { DEBIAN_CHROMIUM, findChromium } from "./services/test-chromium.js";

/** A running console and browser. */
export interface ConsoleInBrowser {
  readonly consoleUrl: string;
  readonly browser: Browser;
  /** Closes the browser and stops the console. */
  close(): Promise<void>;
}

/** Starts headless Chromium, the browser of the console tests. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: findChromium() ?? DEBIAN_CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/** Starts the console against `collectorUrl` (`env` added to its environment) and Chromium; resolves once the console answers. */
export async function startConsoleInBrowser(collectorUrl: string, env: Record<string, string> = {}): Promise<ConsoleInBrowser> {
  const next = await startConsoleProcess(collectorUrl, { TROUPE_CONSOLE_SECRET: randomBytes(32).toString("hex"), ...env });
  const browser = await launchChromium();
  return {
    consoleUrl: next.url,
    browser,
    close: async () => {
      await browser.close();
      await next.stop();
    },
  };
}

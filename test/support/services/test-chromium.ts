// The headless Chromium that the console's browser tests drive (test/support/console-in-browser.ts).
import { existsSync, readFileSync } from "node:fs";
import { PrerequisiteError, findExecutable, type TestService } from "./test-service.js";

/** Where Debian's `chromium` package installs the browser, and where the browser tests look first. */
export const DEBIAN_CHROMIUM = "/usr/bin/chromium";

/** The Chromium executable the browser tests launch: /usr/bin/chromium, else `chromium` on PATH; undefined when neither exists. */
export function findChromium(): string | undefined {
  return existsSync(DEBIAN_CHROMIUM) ? DEBIAN_CHROMIUM : findExecutable("chromium");
}

/** Whether a test file drives a browser: every browser test starts one through support/console-in-browser. */
export function isBrowserTestFile(path: string): boolean {
  return /support\/(console-in-browser|services\/test-chromium)(\.js)?["']/.test(readFileSync(path, "utf8"));
}

/**
 * Checks for Chromium when the run's files (`testFiles`) include browser test files. Throws
 * PrerequisiteError, saying how many files need it, when it is missing; a run without
 * browser test files does not need it.
 */
export function ensureChromium(testFiles: string[]): TestService {
  const browserFiles = testFiles.filter(isBrowserTestFile);
  if (browserFiles.length === 0) return { description: "Chromium: not needed by these test files", stop: async () => {} };
  const path = findChromium();
  if (path === undefined) {
    throw new PrerequisiteError(
      `${browserFiles.length} browser test file(s) need Chromium (${DEBIAN_CHROMIUM} or \`chromium\` on PATH) and it is not installed. ` +
        "Install it (Debian/Ubuntu: `apt-get install -y chromium`) and run the tests again, or run only other test files.",
    );
  }
  return { description: `Chromium: ${path}`, stop: async () => {} };
}

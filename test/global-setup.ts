import { spawnSync } from "node:child_process";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { PrerequisiteError } from "./support/services/test-service.js";
import { startTestServices } from "./support/services/test-services.js";

// Before any test file runs: first the services the suite needs (NATS, PostgreSQL, Chromium for the
// browser tests), found running or started for the run, or one message naming what is missing and
// how to install it; then the build, once: the TypeScript packages (tests that spawn `troupe` run
// the built code) and the console (several test files serve it; building it from two at once would
// corrupt .next). Both build steps are skipped when nothing changed.
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const services = await startTestServices(testFilesOf(project)).catch((err: unknown) => {
    if (!(err instanceof PrerequisiteError)) throw err;
    // The message says it all. A thrown error would come with a stack trace and "No test files
    // found"; exiting here leaves the message as the one thing a newcomer reads.
    console.error(`\n${err.message}\n`);
    process.exit(1);
  });
  try {
    build();
  } catch (err) {
    await services.stop();
    throw err;
  }
  return () => services.stop();
}

/** The files of this run: vitest collects them before it runs the global setup. */
function testFilesOf(project: TestProject): string[] {
  return project.vitest.state.getPaths();
}

function build(): void {
  const root = join(import.meta.dirname, "..");
  const script = "const m = await import('./bin/lib/build.mjs'); m.ensurePackagesBuilt(); m.ensureConsoleBuilt();";
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, stdio: "inherit", timeout: 15 * 60_000 });
  if (result.status !== 0) throw new Error(`building before the tests failed (exit ${result.status ?? result.signal})`);
}

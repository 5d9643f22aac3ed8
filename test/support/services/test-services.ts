// Everything the suite needs besides Node and npm packages, ready before the first test file runs:
// found running, started for the run, or reported missing with the command that installs it.
import { ensureChromium } from "./test-chromium.js";
import { ensureNats } from "./test-nats.js";
import { ensurePostgres, testPostgresUrl } from "./test-postgres.js";
import type { TestService } from "./test-service.js";

/** The services of one run; `stop()` stops the ones this run started, in reverse order. */
export interface TestServices {
  stop(): Promise<void>;
}

/**
 * Makes the suite's services available for a run of `testFiles`: NATS with JetStream, PostgreSQL,
 * and Chromium when browser test files run. Prints one line per service. On a missing
 * prerequisite, stops what it started and throws PrerequisiteError.
 */
export async function startTestServices(testFiles: string[], log: (line: string) => void = console.log): Promise<TestServices> {
  const started: TestService[] = [];
  const stop = async (): Promise<void> => {
    for (const service of started.splice(0).reverse()) await service.stop().catch((err: unknown) => log(`stopping a test service failed: ${String(err)}`));
  };
  const say = (line: string): void => log(`test services: ${line}`);
  try {
    // Chromium first: a check of the file system, so a missing browser is reported before any server starts.
    for (const ensure of [async () => ensureChromium(testFiles), ensureNats, () => ensurePostgres(testPostgresUrl(), say)]) {
      const service = await ensure();
      started.push(service);
      say(service.description);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop };
}

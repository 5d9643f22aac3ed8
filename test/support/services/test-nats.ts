// NATS with JetStream on 127.0.0.1:4222, which the distributed runtime's tests, the KV ledgers and
// the README's distributed example connect to.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isListening, waitUntilListening } from "./tcp-port.js";
import { PrerequisiteError, findExecutable, stopChild, type TestService } from "./test-service.js";

const HOST = "127.0.0.1";
const PORT = 4222;

/**
 * Uses the NATS server listening on 127.0.0.1:4222, or starts `nats-server` there for this run
 * (JetStream on, its store in a temporary directory removed at stop). Throws PrerequisiteError
 * when nothing listens and nats-server is not installed or does not start.
 */
export async function ensureNats(): Promise<TestService> {
  if (await isListening(HOST, PORT)) return { description: `NATS: using the server on ${HOST}:${PORT}`, stop: async () => {} };
  const binary = findExecutable("nats-server", ["/usr/sbin", "/usr/local/sbin", "/usr/local/bin"]);
  if (binary === undefined) {
    throw new PrerequisiteError(
      `The tests need NATS with JetStream on ${HOST}:${PORT}: nothing listens there and nats-server is not installed. ` +
        "Install it (Debian/Ubuntu: `apt-get install -y nats-server`; elsewhere: https://docs.nats.io/running-a-nats-service/introduction/installation) and run the tests again; they start it themselves.",
    );
  }
  const storeDir = await mkdtemp(join(tmpdir(), "troupe-test-nats-"));
  const child = spawn(binary, ["-a", HOST, "-p", String(PORT), "-js", "-sd", storeDir], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr.on("data", (chunk: Buffer) => (log = (log + chunk.toString("utf8")).slice(-4096)));
  let spawnError: Error | undefined;
  child.once("error", (err) => (spawnError = err));
  const stop = async (): Promise<void> => {
    await stopChild(child);
    await rm(storeDir, { recursive: true, force: true });
  };
  try {
    await waitUntilListening(HOST, PORT, 15_000, () => {
      if (spawnError !== undefined) return spawnError.message;
      if (child.exitCode !== null || child.signalCode !== null) return `it exited (${child.exitCode ?? child.signalCode}); its log ended with:\n${log}`;
      return undefined;
    });
  } catch (err) {
    await stop();
    throw new PrerequisiteError(`The tests need NATS with JetStream on ${HOST}:${PORT}: nothing listens there, and ${binary} did not start: ${(err as Error).message}`);
  }
  return { description: `NATS: started ${binary} on ${HOST}:${PORT} (JetStream, store in ${storeDir}; stopped after the run)`, stop };
}

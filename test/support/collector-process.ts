// The collector as its own process (`collector/src/main.ts`), for tests that kill it with SIGKILL
// and start it again on the same data directory, and the `troupe` CLI as a user runs it.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";

const ROOT = join(import.meta.dirname, "..", "..");

/** A collector process and the URL it listens on. */
export interface CollectorProcess {
  readonly child: ChildProcess;
  readonly url: string;
}

/**
 * Starts a collector process on `dataDir` (on `port`, default any free one; `env` added to this
 * process's environment) and resolves once it listens. Every process started is pushed onto
 * `started`, for the test's afterAll to kill.
 */
export async function startCollectorProcess(dataDir: string, started: ChildProcess[], options: { port?: number; env?: Record<string, string> } = {}): Promise<CollectorProcess> {
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", "collector/src/main.ts"], {
    cwd: ROOT,
    env: { ...process.env, ...options.env, TROUPE_DATA_DIR: dataDir, TROUPE_COLLECTOR_PORT: String(options.port ?? 0), TROUPE_COLLECTOR_HOST: "127.0.0.1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`collector did not start: ${stderr}`)), 90_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const msg = JSON.parse(line) as { event?: string; url?: string };
      if (msg.event === "listening" && msg.url) {
        clearTimeout(timer);
        resolve(msg.url);
      }
    });
    child.once("exit", (code) => reject(new Error(`collector exited with ${code}: ${stderr}`)));
  });
  return { child, url };
}

/** Resolves with the process's exit code once it has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once("exit", (code) => r(code)));
}

/** What a finished `troupe` command printed. */
export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `bin/troupe.mjs` with `args` in `cwd`, with `env` added to this process's environment. */
export function runTroupe(args: string[], cwd: string, env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "bin/troupe.mjs"), ...args], { cwd, env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

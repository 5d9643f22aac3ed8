// What every prerequisite of the suite comes to for one run: a line saying where it is, and a way
// to stop it when this run started it.
import type { ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** A service the suite uses during one run. */
export interface TestService {
  /** One line for the run's log: the service, where it listens, and whether this run started it. */
  readonly description: string;
  /** Stops the service if this run started it (and removes its data); does nothing to one that was already running. */
  stop(): Promise<void>;
}

/**
 * A prerequisite of the suite that this machine lacks or that could not be started. Its message
 * names the prerequisite and what to do (the command that installs it), and is all the suite
 * prints: the run stops before any test file starts.
 */
export class PrerequisiteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PrerequisiteError";
  }
}

/**
 * The path of executable `name` on PATH or in `extraDirs` (e.g. /usr/sbin, where Debian installs
 * servers and which is not on a non-root user's PATH), or undefined.
 */
export function findExecutable(name: string, extraDirs: string[] = []): string | undefined {
  for (const dir of [...(process.env.PATH ?? "").split(delimiter), ...extraDirs]) {
    if (dir === "") continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here: try the next directory
    }
  }
  return undefined;
}

/** Sends SIGTERM to a child this run started and resolves once it exited (SIGKILL after `timeoutMs`). */
export async function stopChild(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  // No pid: it never started (spawn failed), and may never emit "exit".
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  await exited;
  clearTimeout(timer);
}

// Runs the stack's parts as child processes of one `troupe start`, in its process group: output is
// prefixed with the part's name, a part that dies takes the stack down with a clear message, and
// Ctrl-C (or SIGTERM) stops every part, waiting for clean exits before forcing them.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const STOP_GRACE_MS = 10_000;

export class Supervisor {
  #children = new Map();
  #stopping = false;
  #onExit;

  /** @param {(code: number) => void} onExit called once, when the whole stack has stopped */
  constructor(onExit) {
    this.#onExit = onExit;
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => this.stop(0, `received ${signal}`));
  }

  /** Starts a part: `node <args>` with extra env; its output lines are prefixed with `name`. */
  spawn(name, args, env) {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...env, TROUPE_PARENT_PID: String(process.pid) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const pad = name.padEnd(9);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => process.stderr.write(`${pad} | ${line}\n`));
    }
    this.#children.set(name, child);
    child.on("exit", (code, signal) => {
      this.#children.delete(name);
      if (!this.#stopping) {
        this.stop(1, `${name} exited unexpectedly (${signal ?? `code ${code}`}); stopping the stack`);
      } else if (this.#children.size === 0) {
        this.#finish();
      }
    });
    return child;
  }

  #exitCode = 0;
  #finished = false;

  #finish() {
    if (this.#finished) return;
    this.#finished = true;
    this.#onExit(this.#exitCode);
  }

  /** Stops every part: SIGTERM, then SIGKILL after a grace period. Idempotent. */
  stop(code, reason) {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#exitCode = code;
    if (reason) console.error(`troupe: ${reason}`);
    if (this.#children.size === 0) return this.#finish();
    console.error(`troupe: stopping ${[...this.#children.keys()].join(", ")} ...`);
    for (const child of this.#children.values()) child.kill("SIGTERM");
    setTimeout(() => {
      for (const [name, child] of this.#children) {
        console.error(`troupe: ${name} did not stop in ${STOP_GRACE_MS / 1000} s; killing it`);
        child.kill("SIGKILL");
      }
    }, STOP_GRACE_MS).unref();
  }
}

/**
 * Exits this process when the `troupe start` that spawned it is gone, so a part can never outlive
 * its stack (e.g. after the parent was SIGKILLed).
 */
export function exitWithParent(env = process.env, onOrphan = () => process.exit(0)) {
  const parent = Number(env.TROUPE_PARENT_PID);
  if (!parent) return;
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      onOrphan();
    }
  }, 1000).unref();
}

/** Polls `url` until it answers 2xx, or throws after `timeoutMs`. */
export async function waitForHttp(url, timeoutMs, isAlive = () => true) {
  const deadline = Date.now() + timeoutMs;
  let lastError = "no answer";
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`gave up waiting for ${url}: the process exited`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      lastError = err.cause?.code ?? err.message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not become ready in ${timeoutMs / 1000} s (${lastError})`);
}

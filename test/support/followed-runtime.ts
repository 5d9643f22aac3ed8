// Starts followed-runtime-main.ts as its own process (so a test can SIGKILL it and start another)
// and drives it over loopback HTTP.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";

const ROOT = join(import.meta.dirname, "..", "..");

/** What the runtime process is given. */
export interface FollowedRuntimeConfig {
  name: string;
  collectorUrl: string;
  /** A service key serving `tenants`. */
  apiKey: string;
  llmBaseUrl: string;
  tenants: string[];
  cacheFile: string;
  usageRefreshMs?: number;
  waitSeconds?: number;
}

/** A running runtime process. */
export interface FollowedRuntime {
  readonly child: ChildProcess;
  /** Everything it wrote to stderr so far (its log). */
  log(): string;
  /** One LLM call for `tenant`: ok, or the error code it failed with (e.g. BUDGET_EXCEEDED). */
  chat(tenant: string): Promise<{ ok: boolean; error?: string }>;
  /** One turn of `tenant` (of the `where` agent with key `key`, default "w"): where it ran. */
  where(tenant: string, key?: string): Promise<{ isMainThread: boolean; threadId: number }>;
  status(): Promise<{ state: string; appliedVersion: number }>;
  /** Waits until every usage record so far is acknowledged by the collector. */
  flush(): Promise<void>;
}

/** Starts a runtime process; it is pushed onto `started` for the test's afterAll to kill. */
export async function startFollowedRuntime(config: FollowedRuntimeConfig, started: ChildProcess[]): Promise<FollowedRuntime> {
  const full = { usageRefreshMs: 1_000, waitSeconds: 25, ...config };
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", join(ROOT, "test/support/followed-runtime-main.ts"), JSON.stringify(full)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`runtime ${config.name} did not start: ${stderr}`)), 60_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const msg = JSON.parse(line) as { event?: string; url?: string };
      if (msg.event === "ready" && msg.url) {
        clearTimeout(timer);
        resolve(msg.url);
      }
    });
    child.once("exit", (code, signal) => reject(new Error(`runtime ${config.name} exited (${code ?? signal}): ${stderr}`)));
  });
  const post = async <T>(path: string, body: unknown = {}): Promise<T> => {
    const res = await fetch(url + path, { method: "POST", body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
    const json = (await res.json()) as T;
    if (res.status !== 200) throw new Error(`runtime ${config.name} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
    return json;
  };
  return {
    child,
    log: () => stderr,
    chat: (tenant) => post("/chat", { tenant }),
    where: (tenant, key) => post("/where", { tenant, key }),
    status: () => post("/status"),
    flush: () => post("/flush"),
  };
}

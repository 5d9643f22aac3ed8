import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { ResourceLimits } from "node:worker_threads";
import { InvalidArgumentError } from "../errors.js";
import type { WorkerBootData } from "./worker-protocol.js";

const TYPESCRIPT = /\.[cm]?ts$/;
/** True when this module runs from TypeScript sources (vitest, `node --import tsx`), not from dist. */
const FROM_SOURCE = TYPESCRIPT.test(new URL(import.meta.url).pathname);
const ENTRY_URL = new URL(FROM_SOURCE ? "./worker-entry.ts" : "./worker-entry.js", import.meta.url);

let tsxApiUrl: string | null | undefined;

/**
 * The file URL of tsx's ESM register API (resolved through its package exports, import
 * condition), or undefined when tsx is not installed.
 */
function resolveTsxApi(): string | undefined {
  if (tsxApiUrl !== undefined) return tsxApiUrl ?? undefined;
  tsxApiUrl = null;
  try {
    const require = createRequire(import.meta.url);
    const manifestPath = require.resolve("tsx/package.json");
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { exports?: Record<string, { import?: { default?: string } } | string> };
    const api = manifest.exports?.["./esm/api"];
    const target = typeof api === "object" ? api.import?.default : undefined;
    if (target !== undefined) tsxApiUrl = pathToFileURL(join(dirname(manifestPath), target)).href;
  } catch {
    // Not installed: only JavaScript agent modules can be hosted, which is what dist deployments use.
  }
  return tsxApiUrl ?? undefined;
}

/** Node options a Worker's execArgv refuses (ERR_WORKER_INVALID_EXEC_ARGV). */
const PROCESS_WIDE_FLAGS = new Set(["--expose-gc", "--expose_gc"]);

/**
 * Starts one worker running worker-entry. From dist it is a plain Worker, which registers tsx itself
 * the first time it must import a `.ts` agent module. From source, a one-line bootstrap registers
 * tsx's ESM hooks inside the worker before importing the entry: on Node 20,
 * `execArgv: ["--import", "tsx"]` does not apply the hooks to a worker's own entry module, so the
 * registration has to happen in the worker itself.
 */
export function launchWorker(resourceLimits: ResourceLimits | undefined): Worker {
  const api = resolveTsxApi();
  const boot: WorkerBootData = api === undefined ? {} : { tsxApiUrl: api };
  const limits = resourceLimits ? { resourceLimits } : {};
  if (!FROM_SOURCE) return new Worker(ENTRY_URL, { workerData: boot, ...limits });
  if (api === undefined) throw new InvalidArgumentError("running the runtime from TypeScript sources needs the tsx package to load the worker thread's code");
  const code = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(ENTRY_URL.href)}); });`;
  // From source, workspace packages must resolve to their sources too (the `source` condition).
  // Process-wide flags (e.g. --expose-gc, which `npm run bench` passes) are refused by Worker: drop them.
  const inherited = process.execArgv.filter((arg) => !PROCESS_WIDE_FLAGS.has(arg));
  const execArgv = inherited.some((arg) => arg === "--conditions=source" || arg === "-C=source") ? inherited : [...inherited, "--conditions=source"];
  return new Worker(code, { eval: true, workerData: boot, execArgv, ...limits });
}

// Makes sure the packages are built before a subcommand imports them: TypeScript packages with
// `tsc -b` (incremental, about a second when nothing changed) and the console with `next build`
// when its sources are newer than the last build.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function newestMtime(dir, skip = new Set(["node_modules", ".next", "dist", "test-results"])) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skip.has(entry.name)) continue;
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path, skip) : statSync(path).mtimeMs);
  }
  return newest;
}

function run(label, command, args, cwd, log) {
  log(`${label} ...`);
  const started = Date.now();
  const result = spawnSync(command, args, { cwd, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" } });
  if (result.status !== 0) throw new Error(`${label} failed (exit ${result.status ?? result.signal})`);
  log(`${label} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** The TypeScript packages, in build order, each with a file its build writes (to tell a built production install). */
const PACKAGES = [
  ["contract", "index.js"],
  ["runtime", "index.js"],
  ["collector", "index.js"],
  ["examples", join("demo", "index.js")],
];

/** Builds contract, runtime, collector and examples: `tsc -b` is incremental, a fraction of a second when nothing changed. */
export function ensurePackagesBuilt(log = console.error) {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  if (!existsSync(tsc)) {
    // A production install (npm prune --omit=dev, as in the Docker image) ships the built packages.
    if (PACKAGES.every(([pkg, file]) => existsSync(join(root, pkg, "dist", file)))) return;
    throw new Error("the packages are not built and TypeScript is not installed: run `npm ci` first");
  }
  const names = PACKAGES.map(([pkg]) => pkg);
  run(`building ${names.join(", ")} (tsc -b)`, process.execPath, [tsc, "-b", ...names], root, log);
}

/** Builds the console with `next build` when it was never built or its sources changed. */
export function ensureConsoleBuilt(log = console.error) {
  const consoleDir = join(root, "console");
  const buildId = join(consoleDir, ".next", "BUILD_ID");
  // The console bundles the query API's contract: a change there rebuilds it too.
  const newest = Math.max(newestMtime(consoleDir), newestMtime(join(root, "contract", "src")));
  if (existsSync(buildId) && newest <= statSync(buildId).mtimeMs) return;
  const next = join(root, "node_modules", "next", "dist", "bin", "next");
  run("building the console (next build, a minute or two the first time)", process.execPath, [next, "build"], consoleDir, log);
}

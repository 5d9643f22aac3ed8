// Where the repository's benchmarks are: <package>/bench/*.bench.ts.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** The packages that hold benchmarks, in the order `npm run bench` lists them. */
export const BENCH_PACKAGES = ["runtime", "collector", "console", "test"];

/**
 * Every benchmark file under `root`, as absolute paths, sorted.
 * @param {string} root the repository's root
 * @returns {string[]}
 */
export function benchmarkFiles(root) {
  return BENCH_PACKAGES.map((pkg) => join(root, pkg, "bench"))
    .filter((dir) => existsSync(dir))
    .flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith(".bench.ts")).map((f) => join(dir, f)))
    .sort();
}

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";

// `npm run bench` as a user runs it: a typo in --only names the problem and the benchmarks there are.
const root = join(import.meta.dirname, "..");
type MergeFigures = (into: Record<string, unknown>, figures: Record<string, unknown>, file: string, owners: Map<string, string>) => string[];
const { mergeFigures } = (await import(join(root, "bin/lib/merge-figures.mjs"))) as { mergeFigures: MergeFigures };
const { benchmarkFiles } = (await import(join(root, "bin/lib/bench-files.mjs"))) as { benchmarkFiles: (root: string) => string[] };

describe("npm run bench", () => {
  it("refuses an --only that matches no benchmark, listing the ones there are", () => {
    const r = spawnSync(process.execPath, [join(root, "bin/bench.mjs"), "--only", "no-such-bench"], { cwd: root, encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('no benchmark matches --only "no-such-bench"');
    expect(r.stderr).toContain("runtime/bench/budget.bench.ts");
    expect(r.stdout).toBe("");
  });

  it("keeps one figure per name: a name a second benchmark also reports is named as a clash, not overwritten", () => {
    const into: Record<string, unknown> = {};
    const owners = new Map<string, string>();
    expect(mergeFigures(into, { untraced_send_msgs_per_s: 820_000, raw_dispatch_msgs_per_s: 19e6 }, "runtime/bench/runtime.bench.ts", owners)).toEqual([]);
    const clashes = mergeFigures(into, { untraced_send_msgs_per_s: 165_000, sampled_1pct_send_msgs_per_s: 67_000 }, "runtime/bench/sampling.bench.ts", owners);
    expect(clashes).toEqual(["untraced_send_msgs_per_s (also reported by runtime/bench/runtime.bench.ts)"]);
    expect(into).toEqual({ untraced_send_msgs_per_s: 820_000, raw_dispatch_msgs_per_s: 19e6, sampled_1pct_send_msgs_per_s: 67_000 });
  });

  it("no two benchmarks of the repository report the same figure name", () => {
    const names = new Map<string, string[]>();
    const files = benchmarkFiles(root);
    expect(files.length).toBeGreaterThan(5);
    for (const path of files) {
      const file = basename(path);
      const text = readFileSync(path, "utf8");
      // The benchmarks assign their figures as result.<name> = … .
      for (const m of text.matchAll(/result\.([a-z0-9_]+)\s*=(?!=)/g)) names.set(m[1]!, [...new Set([...(names.get(m[1]!) ?? []), file])]);
    }
    const shared = [...names].filter(([, files]) => files.length > 1).map(([name, files]) => `${name}: ${files.join(", ")}`);
    expect(shared).toEqual([]);
  });
});

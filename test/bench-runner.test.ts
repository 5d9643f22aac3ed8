import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// `npm run bench` as a user runs it: a typo in --only names the problem and the benchmarks there are.
const root = join(import.meta.dirname, "..");

describe("npm run bench", () => {
  it("refuses an --only that matches no benchmark, listing the ones there are", () => {
    const r = spawnSync(process.execPath, [join(root, "bin/bench.mjs"), "--only", "no-such-bench"], { cwd: root, encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('no benchmark matches --only "no-such-bench"');
    expect(r.stderr).toContain("runtime/bench/budget.bench.ts");
    expect(r.stdout).toBe("");
  });
});

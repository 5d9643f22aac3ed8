#!/usr/bin/env node
// Runs every benchmark in the repository (<package>/bench/*.bench.ts), each in its own process so
// heap and timing figures do not leak between them, and prints one JSON document of all figures.
// The same document is written to bench-results/<timestamp>.json and bench-results/latest.json.
//
// A benchmark prints progress on stderr and exactly one JSON object as its last stdout line.
// Usage: npm run bench [-- --only <substring>] [-- --out <file>]
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, dirname, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { benchmarkFiles } from "./lib/bench-files.mjs";
import { COLLECTOR_NODE_FLAGS } from "./lib/config.mjs";
import { mergeFigures } from "./lib/merge-figures.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: { only: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } },
});
if (values.help) {
  console.log("usage: npm run bench [-- --only <substring>] [-- --out <file>]\nRuns <package>/bench/*.bench.ts and prints one JSON document.");
  process.exit(0);
}

const all = benchmarkFiles(root);
const files = all.filter((file) => !values.only || file.includes(values.only));
if (files.length === 0) {
  console.error(`bench: no benchmark matches --only ${JSON.stringify(values.only)}; there are: ${all.map((f) => relative(root, f)).join(", ")}`);
  process.exit(2);
}

function run(file) {
  return new Promise((resolve) => {
    // A collector benchmark runs the collector in its own process: with the flags it runs with in production.
    const nodeFlags = relative(root, file).startsWith("collector") ? COLLECTOR_NODE_FLAGS : [];
    const child = spawn(process.execPath, [...nodeFlags, "--conditions=source", "--import", "tsx", "--expose-gc", file], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.on("close", (code) => {
      const last = out.trim().split("\n").pop() ?? "";
      try {
        resolve({ ok: code === 0, figures: JSON.parse(last) });
      } catch {
        resolve({ ok: false, figures: {}, error: `exit ${code}, no JSON on the last stdout line` });
      }
    });
  });
}

const started = Date.now();
/** Which benchmark gave each figure name. */
const owners = new Map();
const result = { timestamp: new Date().toISOString(), node: process.version, cpus: (await import("node:os")).cpus().length, benchmarks: {}, errors: {} };
for (const file of files) {
  const name = relative(root, file);
  process.stderr.write(`bench: ${name} ...\n`);
  const t0 = Date.now();
  const { ok, figures, error } = await run(file);
  process.stderr.write(`bench: ${name} ${ok ? "done" : "FAILED"} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  const clashes = mergeFigures(result.benchmarks, figures, name, owners);
  if (!ok) result.errors[name] = error ?? "non-zero exit";
  else if (clashes.length > 0) result.errors[name] = `figure names another benchmark reports, not kept: ${clashes.join(", ")}`;
}
result.durationS = Math.round((Date.now() - started) / 1000);
const json = JSON.stringify(result, null, 2);
mkdirSync(join(root, "bench-results"), { recursive: true });
writeFileSync(values.out ?? join(root, "bench-results", "latest.json"), json + "\n");
writeFileSync(join(root, "bench-results", `${result.timestamp.replace(/[:.]/g, "-")}.json`), json + "\n");
console.log(json);
process.exit(Object.keys(result.errors).length ? 1 : 0);

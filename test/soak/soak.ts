// `npm run soak [-- --duration 10m]`: the long soak (duration from --duration or SOAK_DURATION,
// default 10 minutes; rate from --rate or SOAK_RATE, default 150 operations/s). Progress goes to
// stderr; the last stdout line is the JSON summary. Exits 1 when a span was lost.
import { parseDuration, runSoak } from "./soak-run.js";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

const durationMs = parseDuration(arg("duration") ?? process.env.SOAK_DURATION ?? "10m");
const operationsPerSecond = Number(arg("rate") ?? process.env.SOAK_RATE ?? 150);
if (!(operationsPerSecond > 0)) throw new Error("--rate must be a positive number of operations per second");
process.stderr.write(`soak: ${durationMs / 1000}s at ${operationsPerSecond} operations/s (runtime → OTLP exporter → collector → chDB)\n`);
const summary = await runSoak({ durationMs, operationsPerSecond, sampleEveryMs: durationMs >= 120_000 ? 5_000 : 2_000, log: (l) => process.stderr.write(`${l}\n`) });
process.stderr.write(`soak: heap slope over the second half ${summary.heap_slope_second_half_mb_per_min} MB/min; spans exported ${summary.spans_exported}, stored ${summary.spans_stored}, lost ${summary.spans_lost}\n`);
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exitCode = summary.spans_lost === 0 && summary.spans_export_failed === 0 ? 0 : 1;

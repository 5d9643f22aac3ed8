// Usage records: the CPU each LLM call spends on its usage record and the record's export — build
// (LlmCallUsage), emit (OtlpUsageRecorder → the logs SDK), batch (UsageLogRecordProcessor), serialize
// (OTLP protobuf) and HTTP send — through the pipeline startTelemetry sets up, to a local sink (its
// own process, so its CPU is not counted) that answers 200. Measured with process.cpuUsage over many
// records, against the same loop with a recorder that does nothing, in interleaved rounds of the same
// run. Prints one JSON line on stdout.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { LlmCallUsage, type UsageCharge } from "../src/llm/llm-call-usage.js";
import { startTelemetry } from "../src/otel.js";
import { OtlpUsageRecorder } from "../src/usage/otlp-usage-recorder.js";
import type { UsageRecorder } from "../src/usage/usage-recorder.js";

const RECORDS_PER_ROUND = Number(process.argv[2] ?? 20_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const YIELD_EVERY = 256; // calls between event-loop turns, as calls awaiting their HTTP answers would give

// The sink: a separate process answering every POST with 200 once the body is read.
const sink = spawn(
  process.execPath,
  [
    "-e",
    `const s = require("node:http").createServer((q, r) => { let n = 0; q.on("data", (c) => (n += c.length)); q.on("end", () => { r.writeHead(200, { "content-type": "application/x-protobuf" }).end(); process.stderr.write(""); }); });
     s.listen(0, "127.0.0.1", () => console.log(s.address().port));`,
  ],
  { stdio: ["ignore", "pipe", "inherit"] },
);
const [portLine] = (await once(sink.stdout!, "data")) as [Buffer];
const port = Number(portLine.toString().trim());

const telemetry = startTelemetry({ serviceName: "usage-bench", collector: { url: `http://127.0.0.1:${port}/v1/traces`, apiKey: "bench-key" }, registerGlobal: false });
const recording = new OtlpUsageRecorder({ loggerProvider: telemetry.loggerProvider });
const nothing: UsageRecorder = { record: () => undefined };
// A sampled, recording chat span, so records carry trace and span ids as they do in production.
const tracer = new BasicTracerProvider().getTracer("bench");
const identity = { tenant: "acme", agentType: "researcher", provider: "openai", model: "gpt-4o-mini" };
// The budget ledger that charges the calls (its id goes into each record); none here, as with no budget set.
const ledger = { id: "" };

async function round(recorder: UsageRecorder): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < RECORDS_PER_ROUND; i++) {
    const span = tracer.startSpan("chat gpt-4o-mini");
    const usage = new LlmCallUsage(recorder, identity, ledger);
    const charge: UsageCharge = { inputTokens: 900 + (i % 200), outputTokens: 120 + (i % 50), cachedInputTokens: i % 3 === 0 ? 512 : 0, reasoningTokens: 0, costUsd: 0.000207 + i * 1e-9, usageExact: true };
    usage.end("ok", span, charge, "gpt-4o-mini-2024-07-18");
    span.end();
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await new Promise((resolve) => setImmediate(resolve));
  }
  await telemetry.forceFlush(); // the round's records are all sent (and answered) inside its window
  const used = process.cpuUsage(before);
  return (used.user + used.system) / RECORDS_PER_ROUND;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await round(recording); // warm-up: JIT, sockets
await round(nothing);
const withUs: number[] = [];
const withoutUs: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  // Alternate the order so drift in the machine favours neither side.
  if (r % 2 === 0) {
    withUs.push(await round(recording));
    withoutUs.push(await round(nothing));
  } else {
    withoutUs.push(await round(nothing));
    withUs.push(await round(recording));
  }
  process.stderr.write(`usage.bench: round ${r + 1}/${ROUNDS}: ${withUs.at(-1)!.toFixed(2)} us/call with records, ${withoutUs.at(-1)!.toFixed(2)} without\n`);
}
const stats = telemetry.usageRecordStats();
await telemetry.shutdown();
sink.kill();
const expected = RECORDS_PER_ROUND * (ROUNDS + 1);
if (stats.exported !== expected || stats.dropped !== 0 || stats.failed !== 0) {
  throw new Error(`expected ${expected} records exported and none lost, got ${JSON.stringify(stats)}`);
}
const overhead = median(withUs.map((w, i) => w - withoutUs[i]!));
process.stderr.write(`usage.bench: ${stats.exported} records exported; overhead ${overhead.toFixed(2)} us CPU per call (target <= 20)\n`);
console.log(
  JSON.stringify({
    usage_record_overhead_us: Math.round(overhead * 100) / 100,
    usage_record_loop_with_records_us: Math.round(median(withUs) * 100) / 100,
    usage_record_loop_without_us: Math.round(median(withoutUs) * 100) / 100,
  }),
);

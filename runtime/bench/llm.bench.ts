// LLM wrapper overhead: Troupe's TenantLlm.chat (span, budget reserve/settle, rate-limit buckets,
// retry wrapper, metrics) versus the bare openai client, same local mock server, same request.
// Interleaved so drift in the machine affects both sides equally. Prints one JSON line on stdout.
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import OpenAI from "openai";
import { LlmClients } from "../src/llm/llm-clients.js";
import { startMockOpenAiServer } from "@troupe/runtime/testing";

const CALLS = Number(process.argv[2] ?? 3_000);
const WARMUP = 300;

let exported = 0;
const countingExporter: SpanExporter = {
  export(spans: ReadableSpan[], done) {
    exported += spans.length;
    done({ code: 0 });
  },
  shutdown: async () => undefined,
};

const server = await startMockOpenAiServer({ maxLoggedRequests: 10, behaviour: () => ({ type: "completion", content: "ok", usage: { promptTokens: 12, completionTokens: 1 } }) });
const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(countingExporter, { maxQueueSize: 8_192, maxExportBatchSize: 512, scheduledDelayMillis: 200 })] });
const clients = new LlmClients({
  config: {
    acme: {
      apiKey: "sk-bench",
      baseURL: server.baseURL,
      defaultModel: "gpt-4o-mini",
      budget: { tokensPerDay: 1e12, costUsdPerMonth: 1e9 },
      rateLimit: { requestsPerMinute: 1e9, tokensPerMinute: 1e12 },
    },
  },
  tracerProvider: provider,
});
const troupe = clients.forTenant("acme");
const bare = new OpenAI({ apiKey: "sk-bench", baseURL: server.baseURL, maxRetries: 0 });
const request = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "Summarize the quarterly report in one line." }], max_tokens: 16 };
const agent = { type: "bench" };

async function timeOne(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1_000;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

for (let i = 0; i < WARMUP; i++) {
  await bare.chat.completions.create(request);
  await troupe.chat(request, { agent });
}
process.stderr.write(`llm.bench: warmed up, measuring ${CALLS} calls each\n`);
const bareUs: number[] = [];
const troupeUs: number[] = [];
const diffs: number[] = [];
for (let i = 0; i < CALLS; i++) {
  // Alternate which goes first so connection reuse and GC timing favour neither side.
  let b: number;
  let t: number;
  if (i % 2 === 0) {
    b = await timeOne(() => bare.chat.completions.create(request));
    t = await timeOne(() => troupe.chat(request, { agent }));
  } else {
    t = await timeOne(() => troupe.chat(request, { agent }));
    b = await timeOne(() => bare.chat.completions.create(request));
  }
  bareUs.push(b);
  troupeUs.push(t);
  diffs.push(t - b);
  if ((i + 1) % 1_000 === 0) process.stderr.write(`llm.bench: ${i + 1}/${CALLS}\n`);
}
await provider.forceFlush();
await provider.shutdown();
await server.close();
const counters = clients.metrics.snapshot("acme");
if (counters.succeeded !== CALLS + WARMUP) throw new Error(`expected ${CALLS + WARMUP} successful calls, counted ${counters.succeeded}`);
process.stderr.write(`llm.bench: bare median ${median(bareUs).toFixed(1)} us, troupe median ${median(troupeUs).toFixed(1)} us, spans exported ${exported}\n`);
console.log(
  JSON.stringify({
    llm_call_overhead_us: Math.round((median(troupeUs) - median(bareUs)) * 10) / 10,
    llm_call_overhead_paired_median_us: Math.round(median(diffs) * 10) / 10,
    llm_bare_call_median_us: Math.round(median(bareUs) * 10) / 10,
    llm_troupe_call_median_us: Math.round(median(troupeUs) * 10) / 10,
  }),
);

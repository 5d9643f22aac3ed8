import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { logs } from "@opentelemetry/api-logs";
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { OtlpUsageRecorder, USAGE_LOGGER_NAME } from "./otlp-usage-recorder.js";
import { USAGE_ATTR, USAGE_EVENT_NAME, type UsageRecord } from "@troupe/contract";

const record: UsageRecord = {
  id: "5f0c6f9e-1d2b-4c4e-9a8b-0123456789ab",
  tenant: "acme",
  agentType: "",
  model: "gpt-4o-mini",
  responseModel: "",
  provider: "openai",
  inputTokens: 0,
  outputTokens: 0,
  cachedInputTokens: 0,
  reasoningTokens: 0,
  costUsd: 0,
  outcome: "budget_rejected",
  usageExact: true,
  timeMs: 1_750_000_000_123.5,
  traceId: "",
  spanId: "",
  ledgerId: "",
};

function memoryProvider(): { provider: LoggerProvider; exporter: InMemoryLogRecordExporter } {
  const exporter = new InMemoryLogRecordExporter();
  return { provider: new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] }), exporter };
}

afterEach(() => {
  logs.disable();
  context.disable();
});

describe("OtlpUsageRecorder", () => {
  it("emits one log record per the contract: event name, call start time, typed attributes, no body, nothing optional when empty", () => {
    const { provider, exporter } = memoryProvider();
    new OtlpUsageRecorder({ loggerProvider: provider }).record(record);
    const [log] = exporter.getFinishedLogRecords();
    expect(log?.eventName).toBe(USAGE_EVENT_NAME);
    expect(log?.instrumentationScope.name).toBe(USAGE_LOGGER_NAME);
    expect(log?.hrTime).toEqual([1_750_000_000, 123_500_000]);
    expect(log?.body).toBeUndefined();
    expect(log?.spanContext).toBeUndefined();
    expect(log?.attributes).toEqual({
      [USAGE_ATTR.id]: record.id,
      [USAGE_ATTR.tenantId]: "acme",
      [USAGE_ATTR.provider]: "openai",
      [USAGE_ATTR.model]: "gpt-4o-mini",
      [USAGE_ATTR.outcome]: "budget_rejected",
      [USAGE_ATTR.inputTokens]: 0,
      [USAGE_ATTR.outputTokens]: 0,
      [USAGE_ATTR.costUsd]: 0,
    });
  });

  it("sets the optional fields and the span when there are some, and never takes the active span's", () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const { provider, exporter } = memoryProvider();
    const recorder = new OtlpUsageRecorder({ loggerProvider: provider });
    const tracer = new BasicTracerProvider().getTracer("t");
    tracer.startActiveSpan("active", (active) => {
      recorder.record(record);
      recorder.record({ ...record, agentType: "planner", responseModel: "m-2", cachedInputTokens: 3, reasoningTokens: 2, usageExact: false, traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", ledgerId: "memory:1" });
      active.end();
    });
    const [plain, full] = exporter.getFinishedLogRecords();
    expect(plain?.spanContext).toBeUndefined();
    expect(full?.spanContext).toMatchObject({ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: 1 });
    expect(full?.attributes).toMatchObject({
      [USAGE_ATTR.agentType]: "planner",
      [USAGE_ATTR.responseModel]: "m-2",
      [USAGE_ATTR.cachedInputTokens]: 3,
      [USAGE_ATTR.reasoningTokens]: 2,
      [USAGE_ATTR.usageExact]: false,
      [USAGE_ATTR.ledgerId]: "memory:1",
    });
  });

  it("follows the global logger provider, registered before or after it was built", () => {
    const recorder = new OtlpUsageRecorder();
    recorder.record(record); // no SDK yet: a no-op
    const first = memoryProvider();
    logs.setGlobalLoggerProvider(first.provider);
    recorder.record(record);
    logs.disable();
    const second = memoryProvider();
    logs.setGlobalLoggerProvider(second.provider);
    recorder.record(record);
    expect(first.exporter.getFinishedLogRecords()).toHaveLength(1);
    expect(second.exporter.getFinishedLogRecords()).toHaveLength(1);
  });

  it("never throws: a failing logger costs the record, counted", () => {
    const provider = new LoggerProvider({
      processors: [{ onEmit: () => { throw new Error("disk full"); }, forceFlush: async () => undefined, shutdown: async () => undefined }],
    });
    const recorder = new OtlpUsageRecorder({ loggerProvider: provider });
    expect(() => recorder.record(record)).not.toThrow();
    expect(recorder.failedRecords).toBe(1);
    expect(trace.getActiveSpan()).toBeUndefined();
  });
});

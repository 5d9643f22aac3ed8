import { ExportResultCode } from "@opentelemetry/core";
import type { ExportResult } from "@opentelemetry/core";
import { InMemoryLogRecordExporter, LoggerProvider } from "@opentelemetry/sdk-logs";
import type { LogRecordExporter, ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { afterEach, describe, expect, it } from "vitest";
import { UsageLogRecordProcessor } from "./usage-log-processor.js";
import { USAGE_ATTR, USAGE_EVENT_NAME } from "@troupe/contract";

/** An exporter whose exports wait until the test answers them. */
class HeldExporter implements LogRecordExporter {
  readonly held: { records: ReadableLogRecord[]; done: (result: ExportResult) => void }[] = [];
  export(records: ReadableLogRecord[], done: (result: ExportResult) => void): void {
    this.held.push({ records, done });
  }
  /** Answers every held export: "ok", or failed with this HTTP status. Returns the ids of the records answered. */
  answerAll(answer: "ok" | number): string[] {
    const ids: string[] = [];
    for (const { records, done } of this.held.splice(0)) {
      ids.push(...records.map((r) => String(r.attributes[USAGE_ATTR.id])));
      done(answer === "ok" ? { code: ExportResultCode.SUCCESS } : { code: ExportResultCode.FAILED, error: Object.assign(new Error(`HTTP ${answer}`), { code: answer }) });
    }
    return ids;
  }
  forceFlush = async (): Promise<void> => undefined;
  shutdown = async (): Promise<void> => undefined;
}

const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));
const providers: LoggerProvider[] = [];
afterEach(async () => {
  for (const p of providers.splice(0)) await p.shutdown();
});

function pipeline(exporter: LogRecordExporter, options: ConstructorParameters<typeof UsageLogRecordProcessor>[1] = {}) {
  const processor = new UsageLogRecordProcessor(exporter, options);
  const provider = new LoggerProvider({ processors: [processor] });
  providers.push(provider);
  const logger = provider.getLogger("test");
  const emit = (i: number) => logger.emit({ eventName: USAGE_EVENT_NAME, attributes: { [USAGE_ATTR.id]: `r${i}`, [USAGE_ATTR.inputTokens]: i } });
  return { processor, provider, logger, emit };
}

describe("UsageLogRecordProcessor", () => {
  it("bounds what it holds while an export is slow, tries a failed batch again, and counts what it drops and what is refused", async () => {
    const exporter = new HeldExporter();
    const { processor, emit } = pipeline(exporter, { maxQueueSize: 4, maxExportBatchSize: 2, scheduledDelayMs: 1, maxRetryDelayMs: 5 });
    for (let i = 0; i < 2; i++) emit(i);
    await tick(); // a full batch leaves at once, and its export hangs
    expect(exporter.held.map((h) => h.records.length)).toEqual([2]);
    for (let i = 2; i < 9; i++) emit(i);
    // 2 in the hung export, 2 waiting (4 held, the bound), 5 dropped on arrival.
    expect(processor.stats()).toMatchObject({ queued: 4, exported: 0, dropped: 5, failed: 0, pending: 4 });
    // The receiver is down: the batch goes back to the front and is sent again, not lost.
    expect(exporter.answerAll(503)).toEqual(["r0", "r1"]);
    await tick(20);
    expect(exporter.answerAll("ok")).toEqual(["r0", "r1"]);
    await tick(20);
    // A permanent refusal fails the batch (counted), and the pipeline goes on.
    expect(exporter.answerAll(400)).toEqual(["r2", "r3"]);
    await tick(20);
    expect(exporter.held).toEqual([]);
    expect(processor.stats()).toEqual({ queued: 4, exported: 2, dropped: 5, failed: 2, pending: 0, retries: 1, droppedAttributes: 0 });
  });

  it("forceFlush waits until a receiver that was down has acknowledged everything", async () => {
    const exporter = new HeldExporter();
    const { processor, emit } = pipeline(exporter, { scheduledDelayMs: 1_000, maxRetryDelayMs: 5 });
    for (let i = 0; i < 3; i++) emit(i);
    let flushed = false;
    const flush = processor.forceFlush().then(() => (flushed = true));
    await tick(5);
    expect(exporter.answerAll(503)).toEqual(["r0", "r1", "r2"]);
    await tick(20);
    expect(flushed).toBe(false);
    expect(exporter.answerAll("ok")).toEqual(["r0", "r1", "r2"]);
    await flush;
    expect(processor.stats()).toMatchObject({ exported: 3, pending: 0, retries: 1 });
  });

  it("exports nothing but usage records, and strips a body and attributes outside the contract", async () => {
    const exporter = new InMemoryLogRecordExporter();
    const { processor, provider, logger } = pipeline(exporter, { scheduledDelayMs: 1 });
    expect(logger.enabled({ eventName: "app.log" })).toBe(false);
    expect(logger.enabled({ eventName: USAGE_EVENT_NAME })).toBe(true);
    logger.emit({ eventName: "app.log", body: "a prompt", attributes: { x: 1 } });
    logger.emit({ body: "no event name at all" });
    logger.emit({ eventName: USAGE_EVENT_NAME, body: "a completion", attributes: { [USAGE_ATTR.id]: "r1", "gen_ai.input.messages": "a prompt", [USAGE_ATTR.costUsd]: 0.5 } });
    await provider.forceFlush();
    const exported = exporter.getFinishedLogRecords();
    expect(exported).toHaveLength(1);
    expect(exported[0]!.body).toBeUndefined();
    expect(exported[0]!.attributes).toEqual({ [USAGE_ATTR.id]: "r1", [USAGE_ATTR.costUsd]: 0.5 });
    expect(processor.stats()).toMatchObject({ queued: 1, exported: 1, droppedAttributes: 1 });
  });

  it("has a large default bound: 10,000 records emitted at once are all exported", async () => {
    const exporter = new InMemoryLogRecordExporter();
    const { processor, provider, emit } = pipeline(exporter);
    for (let i = 0; i < 10_000; i++) emit(i);
    await provider.forceFlush();
    expect(exporter.getFinishedLogRecords()).toHaveLength(10_000);
    expect(processor.stats()).toMatchObject({ queued: 10_000, exported: 10_000, dropped: 0, pending: 0 });
  });

  it("counts records emitted after shutdown as dropped", async () => {
    const exporter = new InMemoryLogRecordExporter();
    const { processor, emit } = pipeline(exporter);
    await processor.shutdown();
    emit(1);
    expect(processor.stats()).toMatchObject({ queued: 0, dropped: 1 });
  });
});

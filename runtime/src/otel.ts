/**
 * The one module that sets up the OpenTelemetry SDK for a process that embeds the runtime. The
 * runtime itself only uses `@opentelemetry/api` (and `@opentelemetry/api-logs` for usage records); an entry point calls `startTelemetry` (optionally
 * with `telemetryOptionsFromEnv(process.env)`) and everything the runtime traces is exported through
 * the allow-list filter, and its metrics to the APM of `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`.
 * Without it the API stays a no-op and tracing and metrics cost nothing.
 */
import type { MeterProvider, TracerProvider } from "@opentelemetry/api";
import { context, metrics, propagation, ProxyTracerProvider, trace } from "@opentelemetry/api";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter as OTLPJsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPExporterBase } from "@opentelemetry/otlp-exporter-base";
import type { OTLPExporterNodeConfigBase } from "@opentelemetry/otlp-exporter-base";
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from "@opentelemetry/otlp-exporter-base/node-http";
import { TraceExporterMetricsHelper } from "@opentelemetry/otlp-transformer";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import type { ReadableSpan, Sampler, SpanExporter } from "@opentelemetry/sdk-trace-base";
import { AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { z } from "zod";
import { InvalidArgumentError } from "./errors.js";
import { AllowListSpanProcessor } from "./tracing/allow-list-processor.js";
import type { SamplingStats } from "./tracing/pending-trace.js";
import { SamplingSettings, type SamplingOptions } from "./tracing/sampling-settings.js";
import { SamplingTracerProvider } from "./tracing/sampling-tracer-provider.js";
import { OtlpProtobufTraceSerializer } from "./tracing/otlp-protobuf-serializer.js";
import { logs } from "@opentelemetry/api-logs";
import type { LoggerProvider as ApiLoggerProvider } from "@opentelemetry/api-logs";
import { OTLPLogExporter as OtlpJsonLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPLogExporter as OtlpProtobufLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import type { Resource } from "@opentelemetry/resources";
import { LoggerProvider } from "@opentelemetry/sdk-logs";
import type { LogRecordExporter } from "@opentelemetry/sdk-logs";
import { RESOURCE_ATTRIBUTE_ALLOW_LIST } from "@troupe/contract";
import { UsageLogRecordProcessor } from "./usage/usage-log-processor.js";
import type { UsageBatchOptions, UsageExportStats } from "./usage/usage-log-processor.js";
import { metricsOptionsFromEnv, metricsOptionsSchema, type MetricsOptions } from "./metrics/metrics-options.js";
import { startMetricsPipeline } from "./metrics/metrics-pipeline.js";

export { OtlpProtobufTraceSerializer } from "./tracing/otlp-protobuf-serializer.js";
export type { OtlpProtobufTraceSerializerOptions, OtlpProtobufTraceSerializerStats } from "./tracing/otlp-protobuf-serializer.js";
export { SamplingSettings, DEFAULT_KEEP_SLOWER_THAN_MS, DEFAULT_MAX_SPANS_PER_TRACE } from "./tracing/sampling-settings.js";
export type { SamplingOptions } from "./tracing/sampling-settings.js";
export { SamplingTracerProvider } from "./tracing/sampling-tracer-provider.js";
export type { SamplingTracerProviderOptions } from "./tracing/sampling-tracer-provider.js";
export type { SamplingStats } from "./tracing/pending-trace.js";
export { UsageLogRecordProcessor, DEFAULT_USAGE_BATCH } from "./usage/usage-log-processor.js";
export type { UsageBatchOptions, UsageExportStats } from "./usage/usage-log-processor.js";
export type { MetricsOptions, MetricsExporterKind } from "./metrics/metrics-options.js";

/** One OTLP/HTTP traces endpoint (e.g. an existing APM: Jaeger, Tempo, Honeycomb). */
export interface OtlpEndpointOptions {
  /** The full traces URL, e.g. `http://jaeger:4318/v1/traces`. */
  url: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** Where the Troupe collector is and how to authenticate to it. */
export interface CollectorExportOptions {
  /** The full traces URL, e.g. `http://127.0.0.1:4318/v1/traces`. Unset: the exporter reads `OTEL_EXPORTER_OTLP_*`. */
  url?: string;
  /** The tenant or platform ingest key, sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** Batching of each exporter's BatchSpanProcessor. A full queue drops spans (the SDK counts and logs them). */
export interface BatchOptions {
  maxQueueSize?: number;
  maxExportBatchSize?: number;
  scheduledDelayMs?: number;
  exportTimeoutMs?: number;
}

/**
 * The usage-record pipeline of `startTelemetry`: every LLM call's usage record (one OTLP log record
 * named `troupe.llm.usage`, see usage-record.ts) exported to the collector's `/v1/logs`, whatever
 * the trace sampling, through a bounded queue whose losses are counted (`Telemetry.usageRecordStats`).
 */
export interface UsageRecordsOptions extends UsageBatchOptions {
  /**
   * The full logs URL. Default: the collector's URL with `/v1/traces` replaced by `/v1/logs` (the
   * same key and headers); with no collector URL, the exporter reads `OTEL_EXPORTER_OTLP_LOGS_*`.
   */
  url?: string;
  /** Other log exporters (tests, a second billing sink); each gets its own bounded batch. */
  exporters?: LogRecordExporter[];
}

/** Options of `startTelemetry`. There is no option to export unfiltered spans, by design. */
export interface TelemetryOptions {
  serviceName: string;
  serviceVersion?: string;
  /** Extra resource attributes; only allow-listed ones are exported. */
  resourceAttributes?: Record<string, string | number | boolean>;
  /** The Troupe collector exporter; `false` for none. Default: one exporter configured by `OTEL_EXPORTER_OTLP_*`. */
  collector?: CollectorExportOptions | false;
  /** More OTLP/HTTP endpoints that receive the same (filtered) spans at the same time. */
  extraEndpoints?: OtlpEndpointOptions[];
  /** Any other exporters (tests, vendor exporters); each also gets its own filtered batch processor. */
  exporters?: SpanExporter[];
  /** Fraction of new traces sampled, 0..1 (parent-based). Unset: `OTEL_TRACES_SAMPLER*`, else always on. */
  samplerRatio?: number;
  /**
   * Per-tenant head sampling with keep rules (SamplingOptions; see SamplingTracerProvider for what is
   * kept): a trace with an error, a budget or rate-limit rejection, a timeout or a slow span is kept
   * whole whatever its ratio. Pass a SamplingSettings to hold it for run-time changes (it is also
   * `Telemetry.sampling`). Exclusive with `samplerRatio` (use `defaultRatio`).
   */
  sampling?: SamplingOptions | SamplingSettings;
  batch?: BatchOptions;
  /** Register as the global tracer provider, context manager and W3C propagator. Default true. */
  registerGlobal?: boolean;
  /** Wire format of the OTLP/HTTP exporters: `http/protobuf` (default, as in the OTLP spec) or `http/json`. */
  protocol?: "http/protobuf" | "http/json";
  /** Usage records (billing): default on, to the collector beside the spans; `false` for none. */
  usageRecords?: UsageRecordsOptions | false;
  /**
   * Metrics for your APM (GenAI client metrics, per-tenant runtime metrics; see MetricsOptions):
   * default on when an endpoint is known (`metrics.url`, `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` or
   * `OTEL_EXPORTER_OTLP_ENDPOINT`), never to the Troupe collector; `false` for none.
   */
  metrics?: MetricsOptions | false;
}

/** A running telemetry pipeline. */
export interface Telemetry {
  tracerProvider: TracerProvider;
  /** The sampling settings when started with `sampling`: `setTenantRatio` here applies to the tenant's next traces. */
  readonly sampling: SamplingSettings | undefined;
  /** What sampling decided so far (undefined without `sampling`). */
  samplingStats(): SamplingStats | undefined;
  /** The filters in front of each exporter, in order: collector, extra endpoints, extra exporters. */
  readonly filters: readonly AllowListSpanProcessor[];
  /** Attributes dropped by the allow-list so far, over all exporters. */
  droppedAttributes(): number;
  /**
   * The logger provider of the usage-record pipeline (registered as the global one unless
   * `registerGlobal: false`; then give it to `LlmClients` as `loggerProvider`). Exports only usage records.
   */
  loggerProvider: ApiLoggerProvider;
  /**
   * The meter provider of the metrics pipeline (registered as the global one unless
   * `registerGlobal: false`; then give it to `Runtime` and `LlmClients` as `meterProvider`). The
   * API's no-op provider when metrics are off.
   */
  meterProvider: MeterProvider;
  /** What the usage-record pipeline did, summed over its exporters: records lost = `dropped` + `failed`. */
  usageRecordStats(): UsageExportStats;
  /**
   * Sends every usage record held now and resolves once the collector acknowledged them all (records
   * are held and retried through a collector outage); rejects after the usage `exportTimeoutMs` with
   * how many are still held (they stay held and retried).
   */
  flushUsageRecords(): Promise<void>;
  /** Exports every ended span, every usage record and the metrics now. */
  forceFlush(): Promise<void>;
  /** Flushes, stops every exporter and, if it registered them, restores the no-op globals. Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * The OTLP/HTTP protobuf trace exporter of `@opentelemetry/exporter-trace-otlp-proto` — same
 * transport, retries, bounded concurrent exports, `OTEL_EXPORTER_OTLP_*` handling (endpoint, headers,
 * timeout, compression) and self-observability metrics, built from the same base classes — with
 * OtlpProtobufTraceSerializer in place of the official serializer: the same bytes for less CPU.
 */
export class OtlpProtobufTraceExporter extends OTLPExporterBase<ReadableSpan[]> implements SpanExporter {
  constructor(config: OTLPExporterNodeConfigBase = {}) {
    super(
      createOtlpHttpExportDelegate(
        convertLegacyHttpOptions(config, "TRACES", "v1/traces", { "Content-Type": "application/x-protobuf" }),
        new OtlpProtobufTraceSerializer(),
        "otlp_http_span_exporter",
        TraceExporterMetricsHelper,
        config.selfObsMeterProvider,
      ),
    );
  }
}

const headersSchema = z.record(z.string(), z.string());
const urlSchema = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });
const optionsSchema = z.object({
  serviceName: z.string().min(1, "serviceName must not be empty").max(256),
  serviceVersion: z.string().max(256).optional(),
  resourceAttributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  collector: z
    .union([
      z.literal(false),
      z.object({
        url: urlSchema.optional(),
        apiKey: z.string().min(1).optional(),
        headers: headersSchema.optional(),
        timeoutMs: z.number().int().positive().optional(),
      }),
    ])
    .optional(),
  extraEndpoints: z.array(z.object({ url: urlSchema, headers: headersSchema.optional(), timeoutMs: z.number().int().positive().optional() })).optional(),
  exporters: z.array(z.custom<SpanExporter>((value) => typeof (value as SpanExporter | undefined)?.export === "function", "must be a SpanExporter")).optional(),
  samplerRatio: z.number().min(0).max(1).optional(),
  sampling: z.custom<SamplingOptions | SamplingSettings>((value) => value !== null && typeof value === "object", "must be sampling options or a SamplingSettings").optional(),
  batch: z
    .object({
      maxQueueSize: z.number().int().positive().optional(),
      maxExportBatchSize: z.number().int().positive().optional(),
      scheduledDelayMs: z.number().int().nonnegative().optional(),
      exportTimeoutMs: z.number().int().positive().optional(),
    })
    .refine((b) => b.maxExportBatchSize === undefined || b.maxQueueSize === undefined || b.maxExportBatchSize <= b.maxQueueSize, "batch.maxExportBatchSize must not exceed batch.maxQueueSize")
    .optional(),
  registerGlobal: z.boolean().optional(),
  protocol: z.enum(["http/protobuf", "http/json"]).optional(),
  usageRecords: z
    .union([
      z.literal(false),
      z
        .object({
          url: urlSchema.optional(),
          exporters: z.array(z.custom<LogRecordExporter>((value) => typeof (value as LogRecordExporter | undefined)?.export === "function", "must be a LogRecordExporter")).optional(),
          maxQueueSize: z.number().int().positive().optional(),
          maxExportBatchSize: z.number().int().positive().optional(),
          scheduledDelayMs: z.number().int().nonnegative().optional(),
          exportTimeoutMs: z.number().int().positive().optional(),
        })
        .refine((u) => u.maxExportBatchSize === undefined || u.maxQueueSize === undefined || u.maxExportBatchSize <= u.maxQueueSize, "usageRecords.maxExportBatchSize must not exceed usageRecords.maxQueueSize"),
    ])
    .optional(),
  metrics: z.union([z.literal(false), metricsOptionsSchema]).optional(),
});

/**
 * Starts the SDK: a tracer provider with the service resource, the W3C trace-context and baggage
 * propagators, and one batch processor per exporter, each behind an AllowListSpanProcessor, so every
 * exporter receives only allow-listed metadata. Throws InvalidArgumentError naming the bad option.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = innermostIssue(parsed.error.issues[0]!);
    throw new InvalidArgumentError(`telemetry option ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  if (options.sampling !== undefined && options.samplerRatio !== undefined) {
    throw new InvalidArgumentError("telemetry options samplerRatio and sampling are exclusive: set sampling.defaultRatio instead");
  }
  const sampling = options.sampling === undefined || options.sampling instanceof SamplingSettings ? options.sampling : new SamplingSettings(options.sampling);

  // OTLP/HTTP protobuf is the spec's default and costs about a quarter less CPU per span than JSON.
  const OTLPTraceExporter = options.protocol === "http/json" ? OTLPJsonTraceExporter : OtlpProtobufTraceExporter;
  const exporters: SpanExporter[] = [];
  if (options.collector !== false) {
    const collector = options.collector ?? {};
    const headers = { ...collector.headers, ...(collector.apiKey === undefined ? {} : { Authorization: `Bearer ${collector.apiKey}` }) };
    exporters.push(new OTLPTraceExporter({ url: collector.url, headers, timeoutMillis: collector.timeoutMs }));
  }
  for (const endpoint of options.extraEndpoints ?? []) {
    exporters.push(new OTLPTraceExporter({ url: endpoint.url, headers: endpoint.headers, timeoutMillis: endpoint.timeoutMs }));
  }
  exporters.push(...(options.exporters ?? []));

  const batch = options.batch ?? {};
  const filters = exporters.map(
    (exporter) =>
      new AllowListSpanProcessor(
        new BatchSpanProcessor(exporter, {
          maxQueueSize: batch.maxQueueSize,
          maxExportBatchSize: batch.maxExportBatchSize,
          scheduledDelayMillis: batch.scheduledDelayMs,
          exportTimeoutMillis: batch.exportTimeoutMs,
        }),
      ),
  );

  // Explicit options over the SDK defaults; OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES over both.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ ...options.resourceAttributes, "service.name": options.serviceName, ...(options.serviceVersion === undefined ? {} : { "service.version": options.serviceVersion }) }))
    .merge(detectResources({ detectors: [envDetector] }));
  // Logs and metrics carry the resource cut to the allow-list, as the span filter cuts it.
  const allowedResource = resourceFromAttributes(Object.fromEntries(Object.entries(resource.attributes).filter(([key]) => RESOURCE_ATTRIBUTE_ALLOW_LIST.has(key))));
  const usage = startUsagePipeline(options, allowedResource);
  const meters = startMetricsPipeline(options.metrics, allowedResource, options.protocol);

  let sampler: Sampler | undefined;
  if (options.samplerRatio !== undefined) {
    sampler = new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.samplerRatio) });
  }
  // Sampling by tenant decides in front of the SDK, which then records every span it is asked for (whatever OTEL_TRACES_SAMPLER says).
  if (sampling !== undefined) sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() });

  const provider = new NodeTracerProvider({ resource, sampler, spanProcessors: filters });
  const tracerProvider = sampling === undefined ? provider : new SamplingTracerProvider({ delegate: provider, spanProcessors: filters, resource, sampling });
  const registered = options.registerGlobal !== false;
  if (registered) {
    provider.register({ propagator: new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }) });
    // register() set the SDK provider behind the API's global proxy: put the sampling provider there instead.
    const global = trace.getTracerProvider();
    if (tracerProvider !== provider && global instanceof ProxyTracerProvider) global.setDelegate(tracerProvider);
  }

  if (registered) logs.setGlobalLoggerProvider(usage.loggerProvider);
  if (registered && meters.enabled) metrics.setGlobalMeterProvider(meters.meterProvider);

  let shutdownPromise: Promise<void> | undefined;
  return {
    tracerProvider,
    sampling,
    samplingStats: () => (tracerProvider instanceof SamplingTracerProvider ? tracerProvider.stats() : undefined),
    filters,
    droppedAttributes: () => filters.reduce((sum, filter) => sum + filter.droppedAttributes, 0),
    loggerProvider: usage.loggerProvider,
    meterProvider: meters.meterProvider,
    usageRecordStats: usage.stats,
    flushUsageRecords: () => usage.loggerProvider.forceFlush(),
    forceFlush: async () => {
      await Promise.all([provider.forceFlush(), usage.loggerProvider.forceFlush(), meters.forceFlush()]);
    },
    shutdown: () => {
      shutdownPromise ??= (async () => {
        try {
          await Promise.all([provider.shutdown(), usage.loggerProvider.shutdown(), meters.shutdown()]);
        } finally {
          if (registered) {
            trace.disable();
            context.disable();
            propagation.disable();
            logs.disable();
            if (meters.enabled) metrics.disable();
          }
        }
      })();
      return shutdownPromise;
    },
  };
}

/** For an option that is `false` or an object, what was wrong with the object rather than "Invalid input". */
function innermostIssue(issue: z.core.$ZodIssue): { path: PropertyKey[]; message: string } {
  if (issue.code !== "invalid_union") return issue;
  const objectBranch = issue.errors.find((branch) => branch[0] !== undefined && !(branch[0].code === "invalid_value" && branch[0].values.includes(false)));
  if (objectBranch === undefined) return issue;
  const inner = innermostIssue(objectBranch[0]!);
  return { path: [...issue.path, ...inner.path], message: inner.message };
}

/**
 * Builds telemetry options from an environment object (pass `process.env` from an entry point).
 * Returns undefined when tracing is switched off (`OTEL_SDK_DISABLED=true` or
 * `OTEL_TRACES_EXPORTER=none`). Reads `OTEL_SERVICE_NAME`; the collector URL from
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` (read by the exporter itself)
 * or else `TROUPE_COLLECTOR_URL` + `/v1/traces`; the ingest key from `TROUPE_INGEST_KEY`; the wire
 * format from `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`. Usage records go
 * beside the spans (`/v1/logs`), to `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` when set, and nowhere with
 * `OTEL_LOGS_EXPORTER=none`. Metrics go to `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` /
 * `OTEL_EXPORTER_OTLP_ENDPOINT` only (see metricsOptionsFromEnv: `OTEL_METRICS_EXPORTER`, the metrics
 * protocol, `OTEL_METRIC_EXPORT_INTERVAL` and `_TIMEOUT`). Every other
 * `OTEL_*` variable (headers, sampler, batch sizes, timeouts) is read by the SDK as usual.
 */
export function telemetryOptionsFromEnv(env: Record<string, string | undefined>, defaults: Partial<TelemetryOptions> = {}): TelemetryOptions | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return undefined;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === "none") return undefined;
  const standardEndpoint = Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const troupeUrl = env.TROUPE_COLLECTOR_URL?.trim();
  const collectorDefaults = defaults.collector === false ? undefined : defaults.collector;
  const collector: CollectorExportOptions = {
    ...collectorDefaults,
    ...(!standardEndpoint && troupeUrl ? { url: `${troupeUrl.replace(/\/+$/, "")}/v1/traces` } : {}),
    ...(env.TROUPE_INGEST_KEY ? { apiKey: env.TROUPE_INGEST_KEY } : {}),
  };
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL)?.trim();
  if (protocol !== undefined && protocol !== "" && protocol !== "http/protobuf" && protocol !== "http/json") {
    throw new InvalidArgumentError(`OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json (gRPC is not supported here); got "${protocol}"`);
  }
  return {
    ...defaults,
    serviceName: env.OTEL_SERVICE_NAME?.trim() || defaults.serviceName || "troupe-runtime",
    collector: defaults.collector === false ? false : collector,
    ...(protocol ? { protocol: protocol as "http/protobuf" | "http/json" } : {}),
    ...usageRecordsFromEnv(env, defaults, collector.url, troupeUrl),
    metrics: metricsOptionsFromEnv(env, defaults.metrics),
  };
}

/**
 * The usage-record options an environment asks for, beyond what startTelemetry derives from the
 * collector URL: off with `OTEL_LOGS_EXPORTER=none`; `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` over the
 * derived URL; `TROUPE_COLLECTOR_URL` when only the traces endpoint was given.
 */
function usageRecordsFromEnv(env: Record<string, string | undefined>, defaults: Partial<TelemetryOptions>, collectorUrl: string | undefined, troupeUrl: string | undefined): Pick<TelemetryOptions, "usageRecords"> {
  if (env.OTEL_LOGS_EXPORTER?.trim().toLowerCase() === "none") return { usageRecords: false };
  if (defaults.usageRecords === false) return {};
  const logsEndpoint = env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT?.trim();
  let url: string | undefined;
  if (logsEndpoint) url = collectorUrl === undefined ? undefined : logsEndpoint;
  else if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && collectorUrl === undefined && troupeUrl) url = `${troupeUrl.replace(/\/+$/, "")}/v1/logs`;
  return url === undefined ? {} : { usageRecords: { ...defaults.usageRecords, url } };
}

/**
 * The usage-record pipeline: a logger provider that exports only usage records, one bounded
 * UsageLogRecordProcessor per exporter, never looking at trace sampling.
 */
function startUsagePipeline(options: TelemetryOptions, resource: Resource): { loggerProvider: LoggerProvider; stats: () => UsageExportStats } {
  const usage = options.usageRecords === false ? undefined : (options.usageRecords ?? {});
  const exporters: LogRecordExporter[] = [];
  if (usage !== undefined && options.collector !== false) {
    const collector = options.collector ?? {};
    const headers = { ...collector.headers, ...(collector.apiKey === undefined ? {} : { Authorization: `Bearer ${collector.apiKey}` }) };
    const OTLPLogExporter = options.protocol === "http/json" ? OtlpJsonLogExporter : OtlpProtobufLogExporter;
    exporters.push(new OTLPLogExporter({ url: usage.url ?? logsUrlOf(collector.url), headers, timeoutMillis: collector.timeoutMs }));
  }
  exporters.push(...(usage?.exporters ?? []));
  const batch: UsageBatchOptions = {
    maxQueueSize: usage?.maxQueueSize,
    maxExportBatchSize: usage?.maxExportBatchSize,
    scheduledDelayMs: usage?.scheduledDelayMs,
    exportTimeoutMs: usage?.exportTimeoutMs,
  };
  const processors = exporters.map((exporter) => new UsageLogRecordProcessor(exporter, batch));
  const loggerProvider = new LoggerProvider({ resource, processors });
  return {
    loggerProvider,
    stats: () => {
      const sum: UsageExportStats = { queued: 0, exported: 0, dropped: 0, failed: 0, pending: 0, retries: 0, droppedAttributes: 0 };
      for (const processor of processors) {
        const s = processor.stats();
        for (const key of Object.keys(sum) as (keyof UsageExportStats)[]) sum[key] += s[key];
      }
      return sum;
    },
  };
}

/** The collector's logs URL beside its traces URL; undefined (the exporter reads `OTEL_EXPORTER_OTLP_LOGS_*`) when there is none. */
function logsUrlOf(tracesUrl: string | undefined): string | undefined {
  if (tracesUrl === undefined) return undefined;
  const logsUrl = tracesUrl.replace(/\/v1\/traces\/?$/, "/v1/logs");
  if (logsUrl === tracesUrl) {
    throw new InvalidArgumentError(`telemetry option usageRecords.url: needed because collector.url (${tracesUrl}) does not end in /v1/traces (or set usageRecords: false)`);
  }
  return logsUrl;
}

import type { MetricReader } from "@opentelemetry/sdk-metrics";
import { z } from "zod";
import { InvalidArgumentError } from "../errors.js";

/** Where the metrics pipeline of `startTelemetry` exports. */
export type MetricsExporterKind = "otlp" | "console";

/**
 * The metrics pipeline of `startTelemetry`: the GenAI client metrics and the runtime's per-tenant
 * metrics (metric-names.ts), exported every `exportIntervalMs` by a PeriodicExportingMetricReader.
 * The OTLP exporter reads `OTEL_EXPORTER_OTLP_METRICS_*` (else `OTEL_EXPORTER_OTLP_*`) for what is
 * not set here: endpoint, headers, timeout, compression, temporality. Metrics never go to the Troupe
 * collector (it has no `/v1/metrics`): with no `url` and neither `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`
 * nor `OTEL_EXPORTER_OTLP_ENDPOINT` set, there is no OTLP metrics exporter.
 */
export interface MetricsOptions {
  /** Default `["otlp"]`. `console` prints each export to stdout (a quick look, not for production). */
  exporters?: MetricsExporterKind[];
  /** The full metrics URL, e.g. `http://apm:4318/v1/metrics`. Unset: from the variables above, else no OTLP exporter. */
  url?: string;
  /** Sent with every export, merged with `OTEL_EXPORTER_OTLP_METRICS_HEADERS` (these win). */
  headers?: Record<string, string>;
  /** Per export request. Default: `OTEL_EXPORTER_OTLP_METRICS_TIMEOUT`, else 10000. */
  timeoutMs?: number;
  /** Wire format of the OTLP exporter. Default: the telemetry's `protocol`, else `http/protobuf`. */
  protocol?: "http/protobuf" | "http/json";
  /** How often metrics are exported. Default 60000. */
  exportIntervalMs?: number;
  /** How long one collect-and-export may take. Default 30000, cut to the interval when that is shorter. */
  exportTimeoutMs?: number;
  /** More readers (an in-memory one in tests, a pull exporter); each sees every metric. */
  readers?: MetricReader[];
}

const positiveInt = z.number().int().positive();

/** The schema `startTelemetry` validates `metrics` with. */
export const metricsOptionsSchema = z
  .object({
    exporters: z.array(z.enum(["otlp", "console"])).optional(),
    url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
    headers: z.record(z.string(), z.string()).optional(),
    timeoutMs: positiveInt.optional(),
    protocol: z.enum(["http/protobuf", "http/json"]).optional(),
    exportIntervalMs: positiveInt.optional(),
    exportTimeoutMs: positiveInt.optional(),
    readers: z.array(z.custom<MetricReader>((value) => typeof (value as MetricReader | undefined)?.collect === "function", "must be a MetricReader")).optional(),
  })
  .refine((m) => m.exportTimeoutMs === undefined || m.exportIntervalMs === undefined || m.exportTimeoutMs <= m.exportIntervalMs, "metrics.exportTimeoutMs must not exceed metrics.exportIntervalMs");

/**
 * The metrics options an environment asks for, over `defaults`: `false` (no metrics) with
 * `OTEL_METRICS_EXPORTER=none`, or when it names only `otlp` (the default) and no endpoint is set
 * (`OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT` or `defaults.url`) and no
 * reader is given. Reads `OTEL_METRICS_EXPORTER` (a list of `otlp`, `console`, `none`),
 * `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL` (else `OTEL_EXPORTER_OTLP_PROTOCOL`),
 * `OTEL_METRIC_EXPORT_INTERVAL` and `OTEL_METRIC_EXPORT_TIMEOUT` (milliseconds). Throws
 * InvalidArgumentError naming the variable whose value it cannot use.
 */
export function metricsOptionsFromEnv(env: Record<string, string | undefined>, defaults: MetricsOptions | false | undefined): MetricsOptions | false {
  if (defaults === false) return false;
  const named = (env.OTEL_METRICS_EXPORTER ?? "").split(",").map((e) => e.trim().toLowerCase()).filter((e) => e !== "");
  for (const kind of named) {
    if (kind !== "otlp" && kind !== "console" && kind !== "none") throw new InvalidArgumentError(`OTEL_METRICS_EXPORTER must list otlp, console or none (prometheus is not supported here); got "${kind}"`);
  }
  if (named.includes("none")) return false;
  const endpoint = Boolean(env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || defaults?.url);
  const wanted = named.length > 0 ? [...new Set(named as MetricsExporterKind[])] : (defaults?.exporters ?? ["otlp"]);
  const exporters = wanted.filter((kind) => kind !== "otlp" || endpoint);
  if (exporters.length === 0 && (defaults?.readers?.length ?? 0) === 0) return false;

  const protocolVariable = env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL?.trim() ? "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL" : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const protocol = env[protocolVariable]?.trim() || undefined;
  if (protocol !== undefined && protocol !== "http/protobuf" && protocol !== "http/json") {
    throw new InvalidArgumentError(`${protocolVariable} must be http/protobuf or http/json (gRPC is not supported here); got "${protocol}"`);
  }
  const exportIntervalMs = millisecondsOf(env, "OTEL_METRIC_EXPORT_INTERVAL") ?? defaults?.exportIntervalMs;
  const exportTimeoutMs = millisecondsOf(env, "OTEL_METRIC_EXPORT_TIMEOUT") ?? defaults?.exportTimeoutMs;
  if (exportTimeoutMs !== undefined && exportIntervalMs !== undefined && exportTimeoutMs > exportIntervalMs) {
    throw new InvalidArgumentError(`OTEL_METRIC_EXPORT_TIMEOUT (${exportTimeoutMs} ms) must not exceed OTEL_METRIC_EXPORT_INTERVAL (${exportIntervalMs} ms)`);
  }
  return {
    ...defaults,
    exporters,
    ...(protocol === undefined ? {} : { protocol }),
    ...(exportIntervalMs === undefined ? {} : { exportIntervalMs }),
    ...(exportTimeoutMs === undefined ? {} : { exportTimeoutMs }),
  };
}

function millisecondsOf(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const ms = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(ms) || ms <= 0) throw new InvalidArgumentError(`${name} must be a whole number of milliseconds above 0; got "${raw}"`);
  return ms;
}

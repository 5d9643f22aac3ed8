import { createNoopMeter } from "@opentelemetry/api";
import type { MeterProvider as ApiMeterProvider } from "@opentelemetry/api";
import { getStringFromEnv } from "@opentelemetry/core";
import { OTLPMetricExporter as OtlpJsonMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as OtlpProtobufMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import type { Resource } from "@opentelemetry/resources";
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import type { MetricReader, PeriodicExportingMetricReaderOptions, PushMetricExporter } from "@opentelemetry/sdk-metrics";
import type { MetricsOptions } from "./metrics-options.js";

/** The metrics side of a running telemetry. */
export interface MetricsPipeline {
  /** The SDK meter provider; the API's no-op one when no exporter or reader was configured. */
  readonly meterProvider: ApiMeterProvider;
  /** False when metrics are off (nothing to register, flush or shut down). */
  readonly enabled: boolean;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** Metrics off: the API's no-op meter, which the runtime recognizes and then records nothing. */
const OFF: MetricsPipeline = { meterProvider: { getMeter: () => createNoopMeter() }, enabled: false, forceFlush: async () => {}, shutdown: async () => {} };

/**
 * Builds the metrics pipeline `options` describe (see MetricsOptions; undefined: the defaults, `false`:
 * none): a MeterProvider with `resource` and one PeriodicExportingMetricReader per exporter, beside
 * any given readers. The OTLP exporter exists only when an endpoint is known: `options.url`, or
 * `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` as the SDK reads them.
 */
export function startMetricsPipeline(options: MetricsOptions | false | undefined, resource: Resource, defaultProtocol: MetricsOptions["protocol"]): MetricsPipeline {
  if (options === false) return OFF;
  const readers: MetricReader[] = [...(options?.readers ?? [])];
  for (const kind of options?.exporters ?? ["otlp"]) {
    const exporter = kind === "console" ? new ConsoleMetricExporter() : otlpExporter(options ?? {}, defaultProtocol);
    if (exporter !== undefined) readers.push(new PeriodicExportingMetricReader(readerOptions(exporter, options ?? {})));
  }
  if (readers.length === 0) return OFF;
  const meterProvider = new MeterProvider({ resource, readers });
  return { meterProvider, enabled: true, forceFlush: () => meterProvider.forceFlush(), shutdown: () => meterProvider.shutdown() };
}

function otlpExporter(options: MetricsOptions, defaultProtocol: MetricsOptions["protocol"]): PushMetricExporter | undefined {
  const endpoint = options.url ?? getStringFromEnv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") ?? getStringFromEnv("OTEL_EXPORTER_OTLP_ENDPOINT");
  if (endpoint === undefined) return undefined;
  const OTLPMetricExporter = (options.protocol ?? defaultProtocol) === "http/json" ? OtlpJsonMetricExporter : OtlpProtobufMetricExporter;
  return new OTLPMetricExporter({ url: options.url, headers: options.headers, timeoutMillis: options.timeoutMs });
}

/** Only the values given: the reader cuts its default timeout to a shorter interval only when the timeout was not passed. */
function readerOptions(exporter: PushMetricExporter, options: MetricsOptions): PeriodicExportingMetricReaderOptions {
  return {
    exporter,
    ...(options.exportIntervalMs === undefined ? {} : { exportIntervalMillis: options.exportIntervalMs }),
    ...(options.exportTimeoutMs === undefined ? {} : { exportTimeoutMillis: options.exportTimeoutMs }),
  };
}

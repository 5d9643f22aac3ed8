import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../errors.js";
import { metricsOptionsFromEnv } from "./metrics-options.js";
import { CollectingMetricReader } from "./testing/collecting-metric-reader.js";

const ENDPOINT = { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://apm:4318/v1/metrics" };

describe("metricsOptionsFromEnv", () => {
  it("exports over OTLP only when an endpoint is set, never by default", () => {
    expect(metricsOptionsFromEnv({}, undefined)).toBe(false);
    expect(metricsOptionsFromEnv({ TROUPE_COLLECTOR_URL: "http://collector:4318" }, undefined)).toBe(false);
    expect(metricsOptionsFromEnv(ENDPOINT, undefined)).toEqual({ exporters: ["otlp"] });
    expect(metricsOptionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://apm:4318" }, undefined)).toEqual({ exporters: ["otlp"] });
    expect(metricsOptionsFromEnv({}, { url: "http://apm:4318/v1/metrics" })).toEqual({ url: "http://apm:4318/v1/metrics", exporters: ["otlp"] });
  });

  it("reads OTEL_METRICS_EXPORTER: none wins, console needs no endpoint, a list keeps each once", () => {
    expect(metricsOptionsFromEnv({ ...ENDPOINT, OTEL_METRICS_EXPORTER: "none" }, undefined)).toBe(false);
    expect(metricsOptionsFromEnv({ ...ENDPOINT, OTEL_METRICS_EXPORTER: "otlp,none" }, undefined)).toBe(false);
    expect(metricsOptionsFromEnv({ OTEL_METRICS_EXPORTER: "console" }, undefined)).toEqual({ exporters: ["console"] });
    expect(metricsOptionsFromEnv({ ...ENDPOINT, OTEL_METRICS_EXPORTER: " OTLP , console,otlp" }, undefined)).toEqual({ exporters: ["otlp", "console"] });
    // OTLP named but no endpoint: only the console one.
    expect(metricsOptionsFromEnv({ OTEL_METRICS_EXPORTER: "otlp,console" }, undefined)).toEqual({ exporters: ["console"] });
  });

  it("keeps code defaults the environment does not override, and `false` stays off", () => {
    const reader = new CollectingMetricReader();
    expect(metricsOptionsFromEnv({}, { readers: [reader] })).toEqual({ readers: [reader], exporters: [] });
    expect(metricsOptionsFromEnv({ ...ENDPOINT, OTEL_METRIC_EXPORT_INTERVAL: "1000" }, { exportIntervalMs: 5000, headers: { a: "b" } })).toEqual({ exporters: ["otlp"], exportIntervalMs: 1000, headers: { a: "b" } });
    expect(metricsOptionsFromEnv({ ...ENDPOINT, OTEL_METRICS_EXPORTER: "console" }, false)).toBe(false);
  });

  it("reads the metrics protocol, the signal's own variable first", () => {
    expect(metricsOptionsFromEnv({ ...ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" }, undefined)).toEqual({ exporters: ["otlp"], protocol: "http/json" });
    expect(metricsOptionsFromEnv({ ...ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "http/protobuf" }, undefined)).toEqual({ exporters: ["otlp"], protocol: "http/protobuf" });
  });

  it("reads the export interval and timeout in milliseconds", () => {
    expect(metricsOptionsFromEnv({ ...ENDPOINT, OTEL_METRIC_EXPORT_INTERVAL: "15000", OTEL_METRIC_EXPORT_TIMEOUT: "5000" }, undefined)).toEqual({ exporters: ["otlp"], exportIntervalMs: 15000, exportTimeoutMs: 5000 });
  });

  it("refuses a value it cannot use with InvalidArgumentError naming the variable", () => {
    const refused = (env: Record<string, string>): unknown => {
      try {
        metricsOptionsFromEnv({ ...ENDPOINT, ...env }, undefined);
      } catch (error) {
        return error;
      }
      throw new Error("accepted");
    };
    const cases: [Record<string, string>, RegExp][] = [
      [{ OTEL_METRICS_EXPORTER: "prometheus" }, /^OTEL_METRICS_EXPORTER must list otlp, console or none .*"prometheus"/],
      [{ OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "grpc" }, /^OTEL_EXPORTER_OTLP_METRICS_PROTOCOL must be http\/protobuf or http\/json/],
      [{ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, /^OTEL_EXPORTER_OTLP_PROTOCOL must be/],
      [{ OTEL_METRIC_EXPORT_INTERVAL: "10s" }, /^OTEL_METRIC_EXPORT_INTERVAL must be a whole number of milliseconds/],
      [{ OTEL_METRIC_EXPORT_INTERVAL: "0" }, /^OTEL_METRIC_EXPORT_INTERVAL/],
      [{ OTEL_METRIC_EXPORT_TIMEOUT: "-5" }, /^OTEL_METRIC_EXPORT_TIMEOUT/],
      [{ OTEL_METRIC_EXPORT_INTERVAL: "1000", OTEL_METRIC_EXPORT_TIMEOUT: "5000" }, /^OTEL_METRIC_EXPORT_TIMEOUT \(5000 ms\) must not exceed OTEL_METRIC_EXPORT_INTERVAL \(1000 ms\)/],
    ];
    for (const [env, message] of cases) {
      const error = refused(env);
      expect(error, JSON.stringify(env)).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toMatch(message);
    }
  });
});

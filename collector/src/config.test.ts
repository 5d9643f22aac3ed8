import { describe, expect, it } from "vitest";
import { CollectorConfigError, loadCollectorConfig, parseHeaderList } from "./config.js";

describe("loadCollectorConfig", () => {
  it("defaults to embedded chDB in ./.troupe on port 4318", () => {
    expect(loadCollectorConfig({})).toEqual({
      dataDir: "./.troupe",
      port: 4318,
      host: "0.0.0.0",
      spoolMaxBytes: 1024 ** 3,
      connectionLimits: { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000, maxConnections: 1024, maxInflightBodyBytes: 128 * 1024 ** 2 },
    });
  });

  it("reads the connection limits, and refuses a body deadline shorter than the headers timeout or a headers timeout over 15 s", () => {
    const config = loadCollectorConfig({
      TROUPE_HEADERS_TIMEOUT_MS: "5000",
      TROUPE_REQUEST_TIMEOUT_MS: "20000",
      TROUPE_KEEP_ALIVE_TIMEOUT_MS: "2000",
      TROUPE_MAX_CONNECTIONS: "64",
      TROUPE_MAX_INFLIGHT_BODY_BYTES: String(32 * 1024 ** 2),
    });
    expect(config.connectionLimits).toEqual({ headersTimeoutMs: 5000, requestTimeoutMs: 20_000, keepAliveTimeoutMs: 2000, maxConnections: 64, maxInflightBodyBytes: 32 * 1024 ** 2 });
    expect(() => loadCollectorConfig({ TROUPE_HEADERS_TIMEOUT_MS: "8000", TROUPE_REQUEST_TIMEOUT_MS: "4000" })).toThrow(/TROUPE_REQUEST_TIMEOUT_MS \(4000\) is below the headers timeout \(8000\)/);
    expect(() => loadCollectorConfig({ TROUPE_HEADERS_TIMEOUT_MS: "60000", TROUPE_MAX_CONNECTIONS: "0" })).toThrow(
      /TROUPE_HEADERS_TIMEOUT_MS: must be at most 15000 ms.*TROUPE_MAX_CONNECTIONS: must be at least 1/,
    );
  });

  it("reads server mode, admin key and forwarding", () => {
    const config = loadCollectorConfig({
      TROUPE_DATA_DIR: "/var/troupe",
      TROUPE_COLLECTOR_PORT: "14318",
      CLICKHOUSE_URL: "http://clickhouse:8123",
      CLICKHOUSE_USER: "troupe",
      CLICKHOUSE_PASSWORD: "pw",
      CLICKHOUSE_DATABASE: "troupe",
      TROUPE_ADMIN_KEY: "a".repeat(32),
      TROUPE_FORWARD_OTLP_ENDPOINT: "http://jaeger:4318",
      TROUPE_FORWARD_OTLP_HEADERS: "x-api-key=abc%3D,Dd-Site = eu",
      TROUPE_FORWARD_OTLP_PROTOCOL: "http/json",
      TROUPE_INGEST_RATE_LIMIT: "50000",
    });
    expect(config).toMatchObject({
      dataDir: "/var/troupe",
      port: 14318,
      clickhouse: { url: "http://clickhouse:8123", username: "troupe", password: "pw", database: "troupe" },
      adminKey: "a".repeat(32),
      forward: [{ name: "jaeger:4318", endpoint: "http://jaeger:4318", headers: { "x-api-key": "abc=", "dd-site": "eu" }, format: "json" }],
      ingestRateLimitSpansPerS: 50000,
    });
  });

  it("reads several forwarding destinations after TROUPE_FORWARD_OTLP_ENDPOINT, each named, with its own protocol, headers and queue bound", () => {
    const config = loadCollectorConfig({
      TROUPE_FORWARD_OTLP_ENDPOINT: "http://jaeger:4318/v1/traces",
      TROUPE_FORWARD_OTLP_DESTINATIONS: JSON.stringify([
        { name: "honeycomb", endpoint: "https://api.honeycomb.io", headers: { "X-Honeycomb-Team": "k" }, protocol: "http/json", maxQueueSpans: 5000 },
        { endpoint: "http://tempo:4318", maxQueueBytes: 8 * 1024 * 1024 },
      ]),
    });
    expect(config.forward).toEqual([
      { name: "jaeger:4318", endpoint: "http://jaeger:4318/v1/traces", headers: {}, format: "protobuf" },
      { name: "honeycomb", endpoint: "https://api.honeycomb.io", headers: { "x-honeycomb-team": "k" }, format: "json", maxQueueSpans: 5000 },
      { name: "tempo:4318", endpoint: "http://tempo:4318", headers: {}, format: "protobuf", maxQueueBytes: 8 * 1024 * 1024 },
    ]);
  });

  it("refuses a bad destination list naming the variable and the field", () => {
    const bad = (value: unknown): (() => unknown) => () => loadCollectorConfig({ TROUPE_FORWARD_OTLP_DESTINATIONS: typeof value === "string" ? value : JSON.stringify(value) });
    expect(bad("[{")).toThrow(/TROUPE_FORWARD_OTLP_DESTINATIONS: not valid JSON/);
    expect(bad({ endpoint: "http://a" })).toThrow(/TROUPE_FORWARD_OTLP_DESTINATIONS: .*expected array/i);
    expect(bad([])).toThrow(/TROUPE_FORWARD_OTLP_DESTINATIONS: must list at least one destination/);
    expect(bad([{ endpoint: "http://a" }, { endpoint: "ftp://b", protocol: "grpc", maxQueueSpans: 0, headers: { "bad name": "x" }, extra: 1 }])).toThrow(
      /TROUPE_FORWARD_OTLP_DESTINATIONS\[1\]\.endpoint: must be an http\(s\) URL.*TROUPE_FORWARD_OTLP_DESTINATIONS\[1\]\.headers\.bad name: must be an HTTP header name.*TROUPE_FORWARD_OTLP_DESTINATIONS\[1\]\.protocol: must be http\/protobuf or http\/json.*TROUPE_FORWARD_OTLP_DESTINATIONS\[1\]\.maxQueueSpans: must be at least 1.*TROUPE_FORWARD_OTLP_DESTINATIONS\[1\]: .*extra/,
    );
    expect(bad([{ endpoint: "http://a:4318" }, { endpoint: "http://a:4318/v1/traces" }])).toThrow(/two destinations are named "a:4318"; give each a distinct "name"/);
    expect(() => loadCollectorConfig({ TROUPE_FORWARD_OTLP_ENDPOINT: "http://tempo:4318", TROUPE_FORWARD_OTLP_DESTINATIONS: '[{"endpoint":"http://tempo:4318"}]' })).toThrow(/two destinations are named "tempo:4318"/);
    expect(bad([{ name: "a b", endpoint: "http://a" }])).toThrow(/TROUPE_FORWARD_OTLP_DESTINATIONS\[0\]\.name: must be 1-64 letters/);
  });

  it("names every bad variable", () => {
    try {
      loadCollectorConfig({ TROUPE_COLLECTOR_PORT: "70000", CLICKHOUSE_URL: "ftp://x", TROUPE_ADMIN_KEY: "short" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CollectorConfigError);
      const message = (err as Error).message;
      expect(message).toMatch(/TROUPE_COLLECTOR_PORT: must be 0-65535/);
      expect(message).toMatch(/CLICKHOUSE_URL: must be an http\(s\) URL/);
      expect(message).toMatch(/TROUPE_ADMIN_KEY: must be at least 16 characters/);
    }
    expect(() => loadCollectorConfig({ TROUPE_FORWARD_OTLP_HEADERS: "a=b" })).toThrow(/TROUPE_FORWARD_OTLP_ENDPOINT is not/);
    expect(() => parseHeaderList("novalue")).toThrow(/"novalue" is not "name=value"/);
  });
});

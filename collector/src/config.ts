import { z } from "zod";
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "./http/server.js";
import { duplicateNameProblems, formatOf, httpUrl, parseForwardDestinations, protocol, type ForwardDestinationConfig } from "./forward/forward-config.js";

/** Everything the collector process is configured with. */
export interface CollectorConfig {
  /** Embedded data (chDB directory, spool). */
  dataDir: string;
  port: number;
  host: string;
  /** Set → ClickHouse server mode; unset → embedded chDB in <dataDir>/chdb. */
  clickhouse?: { url: string; username?: string; password?: string; database?: string };
  /** Operator key; unset → no admin access. */
  adminKey?: string;
  /** Set → forward filtered spans to these existing APMs (TROUPE_FORWARD_OTLP_ENDPOINT first, then TROUPE_FORWARD_OTLP_DESTINATIONS). */
  forward?: ForwardDestinationConfig[];
  /** Bound on the spool (bytes accepted, not yet in the store); past it ingest answers 503. */
  spoolMaxBytes: number;
  /** Per-ingest-key spans per second (burst: two seconds' worth); past it 429. Unset: no limit. */
  /** Query/admin API requests per second per key (burst: five seconds' worth); default 100. */
  apiRateLimitPerS?: number;
  ingestRateLimitSpansPerS?: number;
  /** Header and body deadlines, connection cap, body bytes in flight; unset fields: DEFAULT_CONNECTION_LIMITS. */
  connectionLimits?: Partial<ConnectionLimits>;
}

/** Raised when the environment is invalid; the message names every bad variable. */
export class CollectorConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CollectorConfigError";
  }
}

const MIN_ADMIN_KEY_LENGTH = 16;

const nonEmpty = z
  .string()
  .trim()
  .transform((v) => (v === "" ? undefined : v))
  .optional();

const port = z.coerce.number<string>().int("must be an integer").min(0, "must be 0-65535").max(65535, "must be 0-65535");

const EnvSchema = z.object({
  TROUPE_DATA_DIR: nonEmpty,
  TROUPE_COLLECTOR_PORT: nonEmpty.pipe(port.optional()),
  TROUPE_COLLECTOR_HOST: nonEmpty,
  TROUPE_INGEST_RATE_LIMIT: nonEmpty.pipe(z.coerce.number<string>().positive("must be a positive number of spans per second").optional()),
  TROUPE_SPOOL_MAX_BYTES: nonEmpty.pipe(z.coerce.number<string>().int().min(1024 * 1024, "must be at least 1048576 bytes").optional()),
  CLICKHOUSE_URL: nonEmpty.pipe(httpUrl.optional()),
  CLICKHOUSE_USER: nonEmpty,
  CLICKHOUSE_PASSWORD: z.string().optional(),
  CLICKHOUSE_DATABASE: nonEmpty.pipe(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, "must be a plain identifier").optional()),
  TROUPE_ADMIN_KEY: nonEmpty.pipe(z.string().min(MIN_ADMIN_KEY_LENGTH, `must be at least ${MIN_ADMIN_KEY_LENGTH} characters`).optional()),
  TROUPE_API_RATE_LIMIT: nonEmpty.pipe(z.coerce.number<string>().positive("must be a positive number of requests per second").optional()),
  TROUPE_HEADERS_TIMEOUT_MS: nonEmpty.pipe(z.coerce.number<string>().int().min(100, "must be at least 100 ms").max(15_000, "must be at most 15000 ms").optional()),
  TROUPE_REQUEST_TIMEOUT_MS: nonEmpty.pipe(z.coerce.number<string>().int().min(100, "must be at least 100 ms").optional()),
  TROUPE_KEEP_ALIVE_TIMEOUT_MS: nonEmpty.pipe(z.coerce.number<string>().int().min(0, "must be 0 or more ms").optional()),
  TROUPE_MAX_CONNECTIONS: nonEmpty.pipe(z.coerce.number<string>().int().min(1, "must be at least 1").optional()),
  TROUPE_MAX_INFLIGHT_BODY_BYTES: nonEmpty.pipe(z.coerce.number<string>().int().min(1024 * 1024, "must be at least 1048576 bytes").optional()),
  TROUPE_FORWARD_OTLP_ENDPOINT: nonEmpty.pipe(httpUrl.optional()),
  TROUPE_FORWARD_OTLP_HEADERS: nonEmpty,
  TROUPE_FORWARD_OTLP_PROTOCOL: nonEmpty.pipe(protocol.optional()),
  TROUPE_FORWARD_OTLP_DESTINATIONS: nonEmpty,
});

/**
 * Reads the collector's configuration from an environment map (entry points pass process.env):
 * TROUPE_DATA_DIR (default ./.troupe), TROUPE_COLLECTOR_PORT (default 4318), TROUPE_COLLECTOR_HOST
 * (default 0.0.0.0), CLICKHOUSE_URL/USER/PASSWORD/DATABASE (server mode), TROUPE_ADMIN_KEY,
 * TROUPE_FORWARD_OTLP_ENDPOINT/HEADERS ("k=v,k2=v2")/PROTOCOL (http/protobuf or http/json) and
 * TROUPE_FORWARD_OTLP_DESTINATIONS (a JSON array of destinations: forward-config.ts),
 * TROUPE_SPOOL_MAX_BYTES (default 1 GiB), TROUPE_INGEST_RATE_LIMIT (spans/s per ingest key; default none), TROUPE_API_RATE_LIMIT (query/admin
 * API requests/s per key; default 100, burst 5 s worth), and the connection limits (DEFAULT_CONNECTION_LIMITS):
 * TROUPE_HEADERS_TIMEOUT_MS (default 10000, at most 15000), TROUPE_REQUEST_TIMEOUT_MS (the body deadline;
 * default 30000, at least the headers timeout), TROUPE_KEEP_ALIVE_TIMEOUT_MS (default 5000),
 * TROUPE_MAX_CONNECTIONS (default 1024), TROUPE_MAX_INFLIGHT_BODY_BYTES (default 128 MiB). Throws
 * CollectorConfigError naming every bad variable.
 */
export function loadCollectorConfig(env: Readonly<Record<string, string | undefined>>): CollectorConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new CollectorConfigError(`invalid collector configuration: ${problems.join("; ")}`);
  }
  const e = parsed.data;
  const connectionLimits: ConnectionLimits = {
    headersTimeoutMs: e.TROUPE_HEADERS_TIMEOUT_MS ?? DEFAULT_CONNECTION_LIMITS.headersTimeoutMs,
    requestTimeoutMs: e.TROUPE_REQUEST_TIMEOUT_MS ?? DEFAULT_CONNECTION_LIMITS.requestTimeoutMs,
    keepAliveTimeoutMs: e.TROUPE_KEEP_ALIVE_TIMEOUT_MS ?? DEFAULT_CONNECTION_LIMITS.keepAliveTimeoutMs,
    maxConnections: e.TROUPE_MAX_CONNECTIONS ?? DEFAULT_CONNECTION_LIMITS.maxConnections,
    maxInflightBodyBytes: e.TROUPE_MAX_INFLIGHT_BODY_BYTES ?? DEFAULT_CONNECTION_LIMITS.maxInflightBodyBytes,
  };
  if (connectionLimits.requestTimeoutMs < connectionLimits.headersTimeoutMs) {
    throw new CollectorConfigError(
      `invalid collector configuration: TROUPE_REQUEST_TIMEOUT_MS (${connectionLimits.requestTimeoutMs}) is below the headers timeout (${connectionLimits.headersTimeoutMs})`,
    );
  }
  const config: CollectorConfig = {
    dataDir: e.TROUPE_DATA_DIR ?? "./.troupe",
    port: e.TROUPE_COLLECTOR_PORT ?? 4318,
    host: e.TROUPE_COLLECTOR_HOST ?? "0.0.0.0",
    spoolMaxBytes: e.TROUPE_SPOOL_MAX_BYTES ?? 1024 * 1024 * 1024,
    connectionLimits,
  };
  if (e.CLICKHOUSE_URL) {
    config.clickhouse = {
      url: e.CLICKHOUSE_URL,
      ...(e.CLICKHOUSE_USER ? { username: e.CLICKHOUSE_USER } : {}),
      ...(e.CLICKHOUSE_PASSWORD !== undefined ? { password: e.CLICKHOUSE_PASSWORD } : {}),
      ...(e.CLICKHOUSE_DATABASE ? { database: e.CLICKHOUSE_DATABASE } : {}),
    };
  }
  if (e.TROUPE_ADMIN_KEY) config.adminKey = e.TROUPE_ADMIN_KEY;
  if (e.TROUPE_INGEST_RATE_LIMIT) config.ingestRateLimitSpansPerS = e.TROUPE_INGEST_RATE_LIMIT;
  if (e.TROUPE_API_RATE_LIMIT) config.apiRateLimitPerS = e.TROUPE_API_RATE_LIMIT;
  if (e.TROUPE_FORWARD_OTLP_HEADERS && !e.TROUPE_FORWARD_OTLP_ENDPOINT) {
    throw new CollectorConfigError("invalid collector configuration: TROUPE_FORWARD_OTLP_HEADERS is set but TROUPE_FORWARD_OTLP_ENDPOINT is not");
  }
  const forward = forwardDestinations(e);
  if (forward.length > 0) config.forward = forward;
  return config;
}

/** TROUPE_FORWARD_OTLP_ENDPOINT (named by its host) and then each of TROUPE_FORWARD_OTLP_DESTINATIONS; throws naming every problem. */
function forwardDestinations(e: z.infer<typeof EnvSchema>): ForwardDestinationConfig[] {
  const destinations: ForwardDestinationConfig[] = [];
  if (e.TROUPE_FORWARD_OTLP_ENDPOINT) {
    destinations.push({
      name: new URL(e.TROUPE_FORWARD_OTLP_ENDPOINT).host,
      endpoint: e.TROUPE_FORWARD_OTLP_ENDPOINT,
      headers: parseHeaderList(e.TROUPE_FORWARD_OTLP_HEADERS ?? ""),
      format: formatOf(e.TROUPE_FORWARD_OTLP_PROTOCOL),
    });
  }
  if (e.TROUPE_FORWARD_OTLP_DESTINATIONS) {
    const { destinations: more, problems } = parseForwardDestinations(e.TROUPE_FORWARD_OTLP_DESTINATIONS);
    const all = [...destinations, ...more];
    problems.push(...duplicateNameProblems(all));
    if (problems.length > 0) throw new CollectorConfigError(`invalid collector configuration: ${problems.join("; ")}`);
    return all;
  }
  return destinations;
}

/**
 * Parses "k=v,k2=v2" (the OTEL_EXPORTER_OTLP_HEADERS format: values URL-decoded, whitespace
 * trimmed). Throws CollectorConfigError naming a malformed entry.
 */
export function parseHeaderList(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const entry of text.split(",")) {
    if (entry.trim() === "") continue;
    const eq = entry.indexOf("=");
    const name = eq > 0 ? entry.slice(0, eq).trim() : "";
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new CollectorConfigError(`invalid collector configuration: TROUPE_FORWARD_OTLP_HEADERS entry ${JSON.stringify(entry.trim().split("=")[0])} is not "name=value"`);
    }
    let value = entry.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // Not URL-encoded: keep as written.
    }
    headers[name.toLowerCase()] = value;
  }
  return headers;
}

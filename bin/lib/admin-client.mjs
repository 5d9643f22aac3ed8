// The CLI's access to the collector's HTTP API: the contract's typed QueryApiClient (the one the
// console and the demo use too), with its failures worded for a terminal: the collector's own error
// message when it answered, or what to check when it did not.
import { QueryApiClient, QueryApiError } from "@troupe/contract/query-api";
import { collectorUrl, adminKey, UsageError } from "./config.mjs";

/** How long the CLI waits for one answer. */
const TIMEOUT_MS = 30_000;

/** The collector refused a request: `status` and `code` as it answered, the message naming the problem. */
export class ApiError extends Error {
  constructor(message, { status, code, detail }) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    /** The collector's stable error code ("bad_request", "not_found", ...), or undefined when the body was not an error object. */
    this.code = code;
    /** The collector's own message. */
    this.detail = detail;
  }
}

/**
 * A failed QueryApiClient call as the CLI reports it: an ApiError (`GET /api/v1/...: HTTP 404: ...`)
 * when the collector answered, else an Error saying it could not be reached.
 */
export function cliError(err, baseUrl) {
  if (!(err instanceof QueryApiError)) return err;
  if (err.code === "unreachable" || err.code === "timeout") {
    const failure = err.cause instanceof Error ? (err.cause.cause?.code ?? err.cause.message) : err.message;
    return new Error(`cannot reach the collector at ${baseUrl} (${failure}); is it running? (troupe start, or --collector-url)`);
  }
  if (err.status === 0 || err.code === "bad_response") return err;
  // A body that was not the collector's JSON error (a proxy's page, say) is shown as it came.
  const detail = err.answerText ?? err.message;
  const code = err.answerText === undefined ? err.code : undefined;
  return new ApiError(`${err.method} ${err.path}: HTTP ${err.status}: ${detail}`, { status: err.status, code, detail });
}

/** The admin API for CLI commands: `call(api => api.method(...))` runs one typed call and rewords its failure. */
export class ApiClient {
  constructor(options) {
    this.baseUrl = collectorUrl(options.collectorUrl);
    const key = adminKey(options.adminKey, process.env, { create: false });
    if (!key) throw new UsageError("no admin key: pass --admin-key, set TROUPE_ADMIN_KEY, or run in the data directory of `troupe start`");
    this.api = new QueryApiClient({ baseUrl: this.baseUrl, key, timeoutMs: TIMEOUT_MS });
  }

  /** Resolves with what `fn(api)` resolves with; rejects with cliError's Error. */
  async call(fn) {
    try {
      return await fn(this.api);
    } catch (err) {
      throw cliError(err, this.baseUrl);
    }
  }
}

/** Parses a non-negative number flag, or throws a UsageError naming it. */
export function numberFlag(value, name) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${name} must be a non-negative number; got "${value}"`);
  return n;
}

/**
 * Parses a settings flag: `none` clears it (null) when `nullable`; otherwise a number within the
 * bounds, or a UsageError naming the flag and what it takes.
 */
export function settingFlag(value, flag, { whole = false, min = 0, exclusive = false, max, nullable = true } = {}) {
  if (value === undefined) return undefined;
  if (nullable && String(value).trim().toLowerCase() === "none") return null;
  const n = Number(value);
  const kind = whole ? "a whole number" : "a number";
  const range = exclusive ? `greater than ${min}` : `at least ${min}`;
  const bounds = max === undefined ? range : `${range} and at most ${max}`;
  const clear = nullable ? ", or none to clear it" : "";
  if (String(value).trim() === "" || !Number.isFinite(n) || (whole && !Number.isSafeInteger(n)) || (exclusive ? n <= min : n < min) || (max !== undefined && n > max)) {
    throw new UsageError(`${flag} takes ${kind} ${bounds}${clear}; got "${value}"`);
  }
  return n;
}

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago" for an ISO time, relative to `nowMs`. */
export function ago(iso, nowMs = Date.now()) {
  const s = Math.round((nowMs - Date.parse(iso)) / 1000);
  if (!Number.isFinite(s)) return iso;
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** Renders rows as an aligned text table. */
export function table(columns, rows) {
  const cells = rows.map((row) => columns.map((c) => String(c.value(row))));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i].length)));
  const line = (values) => values.map((v, i) => (columns[i].right ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(columns.map((c) => c.title)), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

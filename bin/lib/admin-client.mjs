// A small client for the collector's HTTP API, for CLI commands. Errors name the problem: the
// collector's own error message when it answered, or what to check when it did not.
import { collectorUrl, adminKey, UsageError } from "./config.mjs";

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

export class ApiClient {
  constructor(options) {
    this.baseUrl = collectorUrl(options.collectorUrl);
    this.key = adminKey(options.adminKey, process.env, { create: false });
    if (!this.key) throw new UsageError("no admin key: pass --admin-key, set TROUPE_ADMIN_KEY, or run in the data directory of `troupe start`");
  }

  /** Sends a request; resolves with the parsed JSON (or text for CSV), rejects with a clear Error. */
  async request(method, path, { query, body, accept = "json" } = {}) {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    let res;
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${this.key}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new Error(`cannot reach the collector at ${this.baseUrl} (${err.cause?.code ?? err.message}); is it running? (troupe start, or --collector-url)`);
    }
    const text = await res.text();
    if (!res.ok) {
      let message = text.slice(0, 300);
      let code;
      try {
        ({ message, code } = JSON.parse(text).error);
      } catch {
        // not a JSON error body
      }
      throw new ApiError(`${method} ${path}: HTTP ${res.status}: ${message}`, { status: res.status, code, detail: message });
    }
    return accept === "json" ? JSON.parse(text) : text;
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

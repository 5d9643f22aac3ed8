// A small client for the collector's HTTP API, for CLI commands. Errors name the problem: the
// collector's own error message when it answered, or what to check when it did not.
import { collectorUrl, adminKey, UsageError } from "./config.mjs";

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
        headers: { authorization: `Bearer ${this.key}`, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new Error(`cannot reach the collector at ${this.baseUrl} (${err.cause?.code ?? err.message}); is it running? (troupe start, or --collector-url)`);
    }
    const text = await res.text();
    if (!res.ok) {
      let message = text.slice(0, 300);
      try {
        message = JSON.parse(text).error.message;
      } catch {
        // not a JSON error body
      }
      throw new Error(`${method} ${path}: HTTP ${res.status}: ${message}`);
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

/** Renders rows as an aligned text table. */
export function table(columns, rows) {
  const cells = rows.map((row) => columns.map((c) => String(c.value(row))));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i].length)));
  const line = (values) => values.map((v, i) => (columns[i].right ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(columns.map((c) => c.title)), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

// The console's configuration loader: the only module that reads process.env (an entry-point
// concern, ../shared/STYLE.md). Everything else takes these values as parameters.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** Settings the console runs with. */
export interface ConsoleConfig {
  /** Base URL of the collector's HTTP API, without a trailing slash. */
  collectorUrl: string;
  /** How long the console waits for one collector answer before telling the user it is slow. */
  collectorTimeoutMs: number;
  /** 32-byte key the session cookie is sealed with. */
  sessionKey: Buffer;
  /** APM trace URL template with `{traceId}`, or null when no APM is configured. */
  apmTraceUrl: string | null;
  /** Session lifetime. */
  sessionTtlMs: number;
  /** The repository's docs/ folder, whose pages the help pages show (it may be absent from a deployment). */
  docsDir: string;
}

let cached: ConsoleConfig | undefined;

/**
 * The configuration from the environment, resolved once per process: TROUPE_COLLECTOR_URL (default
 * http://127.0.0.1:$TROUPE_COLLECTOR_PORT or :4318), TROUPE_COLLECTOR_TIMEOUT_MS (default 15000; an
 * invalid value is ignored), TROUPE_APM_TRACE_URL, and the session key from
 * TROUPE_CONSOLE_SECRET, else derived from TROUPE_ADMIN_KEY, else a random secret kept in
 * $TROUPE_DATA_DIR/console.secret (mode 0600), created on first use.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ConsoleConfig {
  if (cached && env === process.env) return cached;
  const port = env.TROUPE_COLLECTOR_PORT || "4318";
  const collectorUrl = (env.TROUPE_COLLECTOR_URL || `http://127.0.0.1:${port}`).replace(/\/+$/, "");
  const apm = env.TROUPE_APM_TRACE_URL?.trim();
  const config: ConsoleConfig = {
    collectorUrl,
    collectorTimeoutMs: timeoutFrom(env.TROUPE_COLLECTOR_TIMEOUT_MS),
    sessionKey: sessionKeyFrom(env),
    apmTraceUrl: apm && apm.includes("{traceId}") ? apm : null,
    sessionTtlMs: 8 * 60 * 60 * 1000,
    // next.config.mjs fixes process.env.TROUPE_CONSOLE_DIR at build time (only that exact expression is replaced).
    docsDir: join(resolve(/*turbopackIgnore: true*/ env.TROUPE_CONSOLE_DIR || process.env.TROUPE_CONSOLE_DIR || process.cwd()), "..", "docs"),
  };
  if (env === process.env) cached = config;
  return config;
}

const DEFAULT_COLLECTOR_TIMEOUT_MS = 15_000;

function timeoutFrom(value: string | undefined): number {
  const ms = Number(value);
  return value && Number.isInteger(ms) && ms >= 100 && ms <= 600_000 ? ms : DEFAULT_COLLECTOR_TIMEOUT_MS;
}

function sessionKeyFrom(env: NodeJS.ProcessEnv): Buffer {
  const material = env.TROUPE_CONSOLE_SECRET
    ? `console-secret:${env.TROUPE_CONSOLE_SECRET}`
    : env.TROUPE_ADMIN_KEY
      ? `admin-key:${env.TROUPE_ADMIN_KEY}`
      : `file:${fileSecret(resolve(/*turbopackIgnore: true*/ env.TROUPE_DATA_DIR || ".troupe"))}`;
  return createHash("sha256").update("troupe-console-session-v1\0").update(material).digest();
}

function fileSecret(dir: string): string {
  const file = join(dir, "console.secret");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dir, { recursive: true });
  const secret = randomBytes(32).toString("base64url");
  writeFileSync(file, secret + "\n", { mode: 0o600 });
  return secret;
}

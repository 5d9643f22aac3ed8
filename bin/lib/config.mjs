// Resolves the settings shared by every `troupe` subcommand from flags and the environment
// (names fixed in ../shared/DESIGN.md). Entry-point code: the packages themselves never read env.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";

/**
 * Node (V8) flags the collector's process runs with: `troupe start` passes them to its collector, the
 * container's entry point and the collector benchmarks use them too. Request bodies arrive in
 * ArrayBuffers outside the V8 heap, and V8 counts those bytes against the old generation's
 * allocation limit, so with the default initial limit the collector's ~24 MB heap reached it every
 * ~100 ms while ingesting: 9–10 full GCs per second at 120,000 spans/s. With a 128 MB initial heap
 * it runs ~1.8 per second and the collector spends ~18% less CPU per span; the peak RSS stayed at
 * ~345 MB (most of it chDB). The figures are in docs/benchmarks.md ("The collector's initial heap").
 */
export const COLLECTOR_NODE_FLAGS = Object.freeze(["--initial-heap-size=128"]);

/** The data directory, created when missing. */
export function dataDir(env = process.env) {
  const dir = resolve(env.TROUPE_DATA_DIR || ".troupe");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The collector URL a client subcommand talks to. */
export function collectorUrl(flag, env = process.env) {
  const port = env.TROUPE_COLLECTOR_PORT || "4318";
  return (flag || env.TROUPE_COLLECTOR_URL || `http://127.0.0.1:${port}`).replace(/\/+$/, "");
}

/**
 * The admin key: TROUPE_ADMIN_KEY when set, else the one kept in <dataDir>/admin.key, generated on
 * first use (mode 0600). The embedded stack prints it so an operator can sign in.
 */
export function adminKey(flag, env = process.env, { create = true } = {}) {
  if (flag) return flag;
  if (env.TROUPE_ADMIN_KEY) return env.TROUPE_ADMIN_KEY;
  const file = join(dataDir(env), "admin.key");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  if (!create) return undefined;
  const key = `trp_admin_${randomBytes(24).toString("base64url")}`;
  writeFileSync(file, key + "\n", { mode: 0o600 });
  return key;
}

/** A port from an env value, with a clear error when it is not one. */
export function port(value, name, fallback) {
  const raw = value ?? String(fallback);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${name} must be a port number (0-65535); got "${raw}"`);
  return n;
}

/** A user error: printed as one line, exit code 2. */
export class UsageError extends Error {}

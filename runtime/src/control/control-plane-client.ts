/**
 * The one HTTP client of the control-plane contract (control-wire.ts), as a following runtime uses
 * it. Guarantees: every request carries the key and the runtime's check-in headers; every answer is
 * validated before it is returned; every failure is a ControlPlaneError saying whether the collector
 * was unreachable (network, timeout, 5xx, 429), refused the key (4xx, with the collector's own
 * message) or answered outside the contract (naming the field); a body larger than `maxBodyBytes`
 * is refused unread; its requests are never traced.
 */
import { context } from "@opentelemetry/api";
import { suppressTracing } from "@opentelemetry/core";
import { z } from "zod";
import { ControlPlaneError } from "../errors.js";
import { retryAfterMs } from "../llm/retry-policy.js";
import { CONTROL_HEADERS, CONTROL_PATHS, controlSettingsResponseSchema, controlUsageResponseSchema, type ControlSettingsResponse, type ControlUsageResponse } from "@troupe/contract";

/** Options of a ControlPlaneClient. */
export interface ControlPlaneClientOptions {
  /** The collector's base URL, e.g. `https://collector.example.com`. */
  readonly collectorUrl: string;
  /** A service key or a tenant ingest key. */
  readonly apiKey: string;
  /** CONTROL_HEADERS.runtimeId: one per process. */
  readonly runtimeId: string;
  /** CONTROL_HEADERS.runtimeName: what operators see. */
  readonly runtimeName: string;
  /** How long a request may take beyond its long-poll wait. */
  readonly requestTimeoutMs: number;
  /** Largest answer read. */
  readonly maxBodyBytes: number;
  readonly fetch: typeof fetch;
}

/** A settings read: the new settings, or "unchanged" (304) since `knownVersion`. */
export type SettingsRead = { readonly changed: true; readonly settings: ControlSettingsResponse } | { readonly changed: false };

/** What a settings read asks for. */
export interface SettingsQuery {
  /** Narrows the answer; undefined for every tenant the key serves. */
  readonly tenants: readonly string[] | undefined;
  /** The version held (sent as If-None-Match); undefined when none. */
  readonly knownVersion: number | undefined;
  /** Long-poll wait in seconds (0: answer at once). */
  readonly waitSeconds: number;
  /** The version applied (CONTROL_HEADERS.appliedVersion). */
  readonly appliedVersion: number;
  readonly signal: AbortSignal;
}

/** What a usage read asks for. */
export interface UsageQuery {
  readonly tenants: readonly string[] | undefined;
  /** The caller's own ledger (its records are left out of the sums). */
  readonly excludeLedger: string;
  readonly appliedVersion: number;
  readonly signal: AbortSignal;
}

const errorBodySchema = z.object({ error: z.object({ message: z.string() }) });

/** Reads settings and usage so far from the collector. */
export class ControlPlaneClient {
  readonly #o: ControlPlaneClientOptions;
  readonly #base: string;

  constructor(options: ControlPlaneClientOptions) {
    this.#o = options;
    this.#base = options.collectorUrl.replace(/\/+$/, "");
  }

  /** GET CONTROL_PATHS.settings, a long poll when `knownVersion` and `waitSeconds` are set. */
  async readSettings(q: SettingsQuery): Promise<SettingsRead> {
    const params = new URLSearchParams();
    if (q.tenants !== undefined) params.set("tenants", q.tenants.join(","));
    if (q.knownVersion !== undefined && q.waitSeconds > 0) params.set("wait", String(q.waitSeconds));
    const headers: Record<string, string> = q.knownVersion === undefined ? {} : { "if-none-match": `"${q.knownVersion}"` };
    const res = await this.#get(CONTROL_PATHS.settings, params, headers, q.appliedVersion, q.waitSeconds * 1000, q.signal);
    if (res.status === 304) {
      await res.body?.cancel().catch(() => undefined);
      return { changed: false };
    }
    return { changed: true, settings: await this.#parse(res, controlSettingsResponseSchema, "settings", q.signal) };
  }

  /** GET CONTROL_PATHS.usage: each tenant's usage so far in the current UTC day and month, without `excludeLedger`'s. */
  async readUsage(q: UsageQuery): Promise<ControlUsageResponse> {
    const params = new URLSearchParams();
    if (q.tenants !== undefined) params.set("tenants", q.tenants.join(","));
    params.set("excludeLedger", q.excludeLedger);
    const res = await this.#get(CONTROL_PATHS.usage, params, {}, q.appliedVersion, 0, q.signal);
    return this.#parse(res, controlUsageResponseSchema, "usage", q.signal);
  }

  async #get(path: string, params: URLSearchParams, extra: Record<string, string>, appliedVersion: number, waitMs: number, signal: AbortSignal): Promise<Response> {
    const query = params.size > 0 ? `?${params.toString()}` : "";
    const url = `${this.#base}${path}${query}`;
    // One controller per request, its timer and listener removed when the request ends:
    // AbortSignal.timeout and AbortSignal.any leave timers and weak references behind that an
    // otherwise idle runtime pays for in garbage collection long after the request.
    const limitMs = waitMs + this.#o.requestTimeoutMs;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new DOMException(`no answer within ${Math.round(limitMs / 1000)} s`, "TimeoutError"));
    }, limitMs);
    const onAbort = (): void => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    let res: Response;
    try {
      // Never traced: the runtime's own plumbing is not a tenant's work.
      res = await context.with(suppressTracing(context.active()), () =>
        this.#o.fetch(url, {
          headers: {
            accept: "application/json",
            authorization: `Bearer ${this.#o.apiKey}`,
            [CONTROL_HEADERS.runtimeId]: this.#o.runtimeId,
            [CONTROL_HEADERS.runtimeName]: this.#o.runtimeName,
            [CONTROL_HEADERS.appliedVersion]: String(appliedVersion),
            ...extra,
          },
          signal: controller.signal,
        }),
      );
    } catch (error) {
      if (signal.aborted) throw error;
      const why = timedOut ? `no answer within ${Math.round(limitMs / 1000)} s` : describe(error);
      throw new ControlPlaneError("unreachable", `the collector at ${this.#base} is unreachable (${why})`, undefined, { cause: error });
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
    if (res.status === 200 || res.status === 304) return res;
    const message = await this.#errorMessage(res);
    if (res.status === 429 || res.status >= 500) {
      const after = retryAfterMs(res.headers);
      throw new ControlPlaneError("unreachable", `the collector at ${this.#base} answered ${res.status}${message === "" ? "" : `: ${message}`}`, res.status, after === undefined ? undefined : { retryAfterMs: after });
    }
    throw new ControlPlaneError("refused", `the collector at ${this.#base} refused ${path} (${res.status})${message === "" ? "" : `: ${message}`}`, res.status);
  }

  async #parse<T>(res: Response, schema: z.ZodType<T>, what: string, signal: AbortSignal): Promise<T> {
    let json: unknown;
    try {
      json = JSON.parse(await this.#text(res));
    } catch (error) {
      if (signal.aborted || error instanceof ControlPlaneError) throw error;
      if (error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError")) {
        throw new ControlPlaneError("unreachable", `the collector at ${this.#base} stopped answering mid-way (${describe(error)})`, res.status, { cause: error });
      }
      throw new ControlPlaneError("invalid_answer", `the collector's ${what} answer is not JSON (${describe(error)})`, res.status, { cause: error });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join(".") || "(root)";
      throw new ControlPlaneError("invalid_answer", `the collector's ${what} answer breaks the contract: ${field}: ${issue.message}`, res.status);
    }
    return parsed.data;
  }

  async #errorMessage(res: Response): Promise<string> {
    try {
      const text = await this.#text(res);
      const parsed = errorBodySchema.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data.error.message : text.slice(0, 200);
    } catch {
      return "";
    }
  }

  /** The body as text, refused past maxBodyBytes. */
  async #text(res: Response): Promise<string> {
    const max = this.#o.maxBodyBytes;
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > max) {
      await res.body?.cancel().catch(() => undefined);
      throw new ControlPlaneError("invalid_answer", `the collector's answer of ${declared} bytes is larger than ${max}`, res.status);
    }
    if (res.body === null) return "";
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > max) {
        await res.body.cancel().catch(() => undefined);
        throw new ControlPlaneError("invalid_answer", `the collector's answer is larger than ${max} bytes`, res.status);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString("utf8");
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const code = (cause as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? `${error.message}: ${code}` : cause !== undefined ? `${error.message}: ${cause.message}` : error.message;
}

import { performance } from "node:perf_hooks";
import type { WebhookEvent } from "@troupe/contract/query-api";
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signWebhookBody } from "./webhook-signature.js";

/** How one POST to a webhook went. */
export interface WebhookAttemptResult {
  /** A 2xx answer came. */
  delivered: boolean;
  /** The receiver's status; null when none came. */
  statusCode: number | null;
  /** Why it was not delivered (never the secret); null when it was. */
  error: string | null;
  durationMs: number;
  /** The receiver's Retry-After (429 and 503 only), in milliseconds. */
  retryAfterMs: number | null;
}

/** One signed delivery attempt. */
export interface WebhookPost {
  url: string;
  secret: string;
  event: WebhookEvent;
  timeoutMs: number;
  /** Clock for the signature's `t`. */
  nowMs: number;
}

/**
 * POSTs the event once: JSON body, `Troupe-Event-Id`, `Troupe-Signature` over that exact body.
 * Guarantees: resolves (never rejects) within `timeoutMs`; a redirect is not followed (it counts as
 * not delivered); the answer's body is discarded unread.
 */
export async function postWebhook(post: WebhookPost): Promise<WebhookAttemptResult> {
  const body = JSON.stringify(post.event);
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  try {
    const res = await fetch(post.url, {
      method: "POST",
      redirect: "manual",
      signal: AbortSignal.timeout(post.timeoutMs),
      headers: {
        "Content-Type": "application/json",
        "User-Agent": "troupe-collector",
        [EVENT_ID_HEADER]: post.event.id,
        [SIGNATURE_HEADER]: signWebhookBody(post.secret, body, Math.floor(post.nowMs / 1000)),
      },
      body,
    });
    await res.body?.cancel().catch(() => undefined);
    const status = res.status;
    if (status >= 200 && status < 300) return { delivered: true, statusCode: status, error: null, durationMs: elapsed(), retryAfterMs: null };
    const redirect = res.type === "opaqueredirect" || (status >= 300 && status < 400);
    return {
      delivered: false,
      statusCode: status === 0 ? null : status,
      error: redirect ? `HTTP ${status || "redirect"}: redirects are not followed` : `HTTP ${status}`,
      durationMs: elapsed(),
      retryAfterMs: status === 429 || status === 503 ? parseRetryAfter(res.headers.get("retry-after"), post.nowMs) : null,
    };
  } catch (err) {
    return { delivered: false, statusCode: null, error: describeFailure(err, post.timeoutMs), durationMs: elapsed(), retryAfterMs: null };
  }
}

/** Retry-After as delay-seconds or an HTTP date, in milliseconds from `nowMs`; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d{1,9}$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

function describeFailure(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) return `no answer within ${timeoutMs} ms`;
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  const code = typeof cause?.code === "string" ? cause.code : undefined;
  const message = typeof cause?.message === "string" ? cause.message : err instanceof Error ? err.message : String(err);
  return `request failed: ${code ?? message}`.slice(0, 500);
}

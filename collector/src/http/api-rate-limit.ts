import { createHash } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { CollectorError } from "../errors.js";
import { KeyRateLimiter } from "../ingest/key-rate-limiter.js";

/** Requests per second a caller of the query and admin API may make, and the burst it may send at once. */
export interface ApiRateLimit {
  requestsPerSecond: number;
  burst: number;
}

/** The default: generous for a console and scripts, a wall for a runaway loop. */
export const DEFAULT_API_RATE_LIMIT: ApiRateLimit = { requestsPerSecond: 100, burst: 500 };

/**
 * Limits query/admin API requests per caller (429 with Retry-After past the limit), so one tenant's
 * dashboards or scripts cannot starve the store for everyone. The caller is its bearer key, hashed
 * (secrets are never kept as map keys), or its address when it sends none.
 */
export function apiRateLimit(limit: ApiRateLimit): MiddlewareHandler {
  const limiter = new KeyRateLimiter({ spansPerSecond: limit.requestsPerSecond, burstSpans: limit.burst });
  return async (c, next) => {
    const auth = c.req.header("authorization");
    const caller = auth
      ? createHash("sha256").update(auth).digest("base64url")
      : `addr:${(c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress ?? "unknown"}`;
    const decision = limiter.take(caller, 1);
    if (!decision.ok) {
      throw new CollectorError("rate_limited", `too many API requests: at most ${limit.requestsPerSecond} per second (burst ${limit.burst}) per key; retry later`, {
        retryAfterS: decision.retryAfterS,
      });
    }
    await next();
  };
}

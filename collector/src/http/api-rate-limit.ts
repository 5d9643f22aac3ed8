import { createHash } from "node:crypto";
import { CONTROL_HEADERS } from "@troupe/contract";
import type { MiddlewareHandler } from "hono";
import { RUNTIME_ID_PATTERN } from "../control/checkin-headers.js";
import { CollectorError } from "../errors.js";
import { KeyRateLimiter } from "../ingest/key-rate-limiter.js";

/** Requests per second a caller of the query and admin API may make, and the burst it may send at once. */
export interface ApiRateLimit {
  requestsPerSecond: number;
  burst: number;
}

const CONTROL_PREFIX = "/api/v1/control/";

/** The default: generous for a console and scripts, a wall for a runaway loop. */
export const DEFAULT_API_RATE_LIMIT: ApiRateLimit = { requestsPerSecond: 100, burst: 500 };

/**
 * Limits query/admin API requests per caller (429 with Retry-After past the limit), so one tenant's
 * dashboards or scripts cannot starve the store for everyone. The caller is its bearer key, hashed
 * (secrets are never kept as map keys), or its address when it sends none. On the control API a
 * runtime naming itself (CONTROL_HEADERS.runtimeId) is a caller of its own: the many runtimes
 * sharing one service key each get the limit, so a settings change that wakes all their long
 * polls at once, and their polls right after, are not refused (waiting polls have their own bound).
 */
export function apiRateLimit(limit: ApiRateLimit): MiddlewareHandler {
  const limiter = new KeyRateLimiter({ spansPerSecond: limit.requestsPerSecond, burstSpans: limit.burst });
  return async (c, next) => {
    const auth = c.req.header("authorization");
    const runtimeId = c.req.path.startsWith(CONTROL_PREFIX) ? c.req.header(CONTROL_HEADERS.runtimeId) : undefined;
    const perRuntime = runtimeId !== undefined && RUNTIME_ID_PATTERN.test(runtimeId);
    const caller = auth
      ? createHash("sha256").update(perRuntime ? `${auth}\n${runtimeId}` : auth).digest("base64url")
      : `addr:${(c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress ?? "unknown"}`;
    const decision = limiter.take(caller, 1);
    if (!decision.ok) {
      throw new CollectorError("rate_limited", `too many API requests: at most ${limit.requestsPerSecond} per second (burst ${limit.burst}) per key${perRuntime ? " and runtime" : ""}; retry later`, {
        retryAfterS: decision.retryAfterS,
      });
    }
    await next();
  };
}

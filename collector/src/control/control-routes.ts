import { MAX_SETTINGS_WAIT_S } from "@troupe/contract";
import { Hono } from "hono";
import { z } from "zod";
import { CollectorError } from "../errors.js";
import { requirePrincipal, type AuthVariables } from "../http/auth.js";
import { errorResponse } from "../http/error-response.js";
import type { ControlUsageResponse } from "@troupe/contract";
import { intParam, labelParam } from "@troupe/contract/query-api";
import { parseParams } from "../query/request-params.js";
import { budgetUsage } from "../query/tenant-activity-queries.js";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import type { TenantRegistry } from "../tenants/tenant-registry.js";
import { parseCheckInHeaders } from "./checkin-headers.js";
import { resolveControlScope } from "./control-scope.js";
import { matchesETag, settingsETag, settingsResponse } from "./managed-settings.js";
import type { RuntimeCheckIns } from "./runtime-checkins.js";
import type { SettingsWatch } from "./settings-watch.js";

/** Dependencies of the control routes. */
export interface ControlRoutesOptions {
  gateway: ClickHouseGateway;
  /** Authenticates keys and holds every tenant's settings. */
  registry: TenantRegistry;
  /** Where long polls wait (close it before the server, so waiting polls answer at once). */
  watch: SettingsWatch;
  /** Where settings reads are recorded as check-ins. */
  checkIns: RuntimeCheckIns;
  /** Clock of the usage day and month; default Date.now. */
  now?: () => number;
  /**
   * Resolves once the usage records acknowledged so far are stored, or after `timeoutMs` (false):
   * /control/usage waits for it, so that it counts every acknowledged record. Default: reads what is stored.
   */
  usageStored?: (timeoutMs: number) => Promise<boolean>;
  onInternalError?: (err: unknown) => void;
}

/**
 * How long a usage read waits for acknowledged records to be stored: about one insert when the
 * store is healthy; past it (the store failing or far behind) the read answers what is stored.
 */
export const USAGE_READ_WAIT_MS = 2_000;

const tenantsParam = z.string().min(1, "must name at least one tenant").max(64 * 1000, "too long");
const settingsQuery = z.strictObject({ tenants: tenantsParam.optional(), wait: intParam(0, MAX_SETTINGS_WAIT_S).optional() });
const usageQuery = z.strictObject({ tenants: tenantsParam.optional(), excludeLedger: labelParam.optional() });

/**
 * The control API runtimes follow (mount with `app.route("/api/v1", createControlRoutes(...))`),
 * for service keys (their allowed tenants), tenant ingest keys (their tenant) and admin keys (all):
 * - GET /control/settings: the tenants' settings with `ETag: "<version>"`; with a matching
 *   If-None-Match, 304, or with `?wait=N` a long poll that answers 200 as soon as a change is stored
 *   (through this instance: at once; through another sharing the store: within about a second) and
 *   304 when the wait passes. Every read is recorded as the runtime's check-in (CONTROL_HEADERS).
 *   A long poll is not cut by the server's request timeout (TROUPE_REQUEST_TIMEOUT_MS bounds
 *   receiving a request, and a GET is received with its head), and MAX_SETTINGS_WAIT_S (30 s)
 *   stays below common proxy idle timeouts (60 s).
 * - GET /control/usage: each tenant's tokens and cost of the current UTC day and month, leaving out
 *   the records of `excludeLedger`, counting every usage record acknowledged before the request
 *   (it waits up to USAGE_READ_WAIT_MS for them to be stored).
 * Answers are never cached (Cache-Control: no-store).
 */
export function createControlRoutes(options: ControlRoutesOptions): Hono<{ Variables: AuthVariables }> {
  const { gateway, registry, watch, checkIns } = options;
  const now = options.now ?? Date.now;
  const app = new Hono<{ Variables: AuthVariables }>();
  app.onError((err, c) => {
    if (!(err instanceof CollectorError) || err.code === "internal") options.onInternalError?.(err);
    const res = errorResponse(c, err);
    res.headers.set("Cache-Control", "no-store");
    return res;
  });
  app.use("/control/*", requirePrincipal(registry, ["service-ingest", "tenant-ingest", "admin"]));

  app.get("/control/settings", async (c) => {
    const q = parseParams(settingsQuery, c.req.query());
    const checkIn = parseCheckInHeaders((name) => c.req.header(name));
    const principal = c.get("principal");
    const deadlineMs = Date.now() + (q.wait ?? 0) * 1000;
    let scope = await resolveControlScope(principal, q.tenants, registry);
    if (checkIn.runtimeId !== null) {
      checkIns.record({ runtimeId: checkIn.runtimeId, name: checkIn.name, tenants: scope.tenants.map((t) => t.id), appliedVersion: checkIn.appliedVersion });
    }
    const ifNoneMatch = c.req.header("if-none-match");
    let answer = settingsResponse(scope.tenants);
    while (matchesETag(ifNoneMatch, answer.version) && Date.now() < deadlineMs) {
      const watched = { tenants: scope.all ? ("all" as const) : scope.tenants.map((t) => t.id), version: answer.version };
      const reason = await watch.wait(watched, deadlineMs - Date.now(), c.req.raw.signal);
      if (reason !== "changed") break;
      // "changed" means "may have": read again, and keep waiting when this poll's tenants did not change.
      scope = await resolveControlScope(principal, q.tenants, registry);
      answer = settingsResponse(scope.tenants);
    }
    const headers = { ETag: settingsETag(answer.version), "Cache-Control": "no-store" };
    if (matchesETag(ifNoneMatch, answer.version)) return c.body(null, 304, headers);
    return c.json(answer, 200, headers);
  });

  app.get("/control/usage", async (c) => {
    const q = parseParams(usageQuery, c.req.query());
    const scope = await resolveControlScope(c.get("principal"), q.tenants, registry);
    // Usage acknowledged a moment ago (a runtime's last records before it was killed) must count.
    await options.usageStored?.(USAGE_READ_WAIT_MS);
    const nowMs = now();
    const ids = scope.tenants.map((t) => t.id);
    const used = await budgetUsage(gateway, nowMs, scope.all ? undefined : ids, q.excludeLedger ?? "");
    const asOf = new Date(nowMs).toISOString();
    const answer: ControlUsageResponse = {
      asOf,
      day: asOf.slice(0, 10),
      month: asOf.slice(0, 7),
      // Only tenants with usage: a runtime following 1,000 quiet tenants reads a few bytes, not 1,000 rows of zeros.
      tenants: ids.flatMap((id) => {
        const u = used.get(id);
        return u === undefined ? [] : [{ id, dayTokens: u.dailyTokensUsed, dayCostUsd: u.dailyCostUsdUsed, monthTokens: u.monthlyTokensUsed, monthCostUsd: u.monthlyCostUsdUsed }];
      }),
    };
    return c.json(answer, 200, { "Cache-Control": "no-store" });
  });

  return app;
}

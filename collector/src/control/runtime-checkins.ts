import type { RuntimeCheckIn } from "@troupe/contract/query-api";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { toClickHouseDateTime } from "../store/clickhouse-time.js";

/** What a runtime reports with a settings read (its CONTROL_HEADERS, and the tenants read). */
export interface CheckInReport {
  runtimeId: string;
  name: string;
  tenants: readonly string[];
  appliedVersion: number;
}

/** Options of the check-in log; every field has a default. */
export interface RuntimeCheckInsOptions {
  /** A runtime seen again without news is written at most this often; default 30,000 ms. */
  refreshIntervalMs?: number;
  /** Check-ins are written together, within this of being recorded; default 1,000 ms. */
  flushDelayMs?: number;
  /** Runtimes remembered in memory (the least recently seen are forgotten first); default 10,000. */
  maxRuntimes?: number;
  /** Told when a write fails (its rows are kept for the next one, within maxRuntimes). */
  onError?: (err: unknown) => void;
  now?: () => number;
}

/**
 * Runtimes' check-ins: which runtime read which tenants' settings, and the version it had applied.
 * Guarantees: a check-in is visible to `forTenant` on this instance at once, and in the store
 * (so to every instance) within `flushDelayMs` when the runtime is new or its applied version, name
 * or tenants changed, and within `refreshIntervalMs` otherwise, so an idle long-poller costs at
 * most one row per interval; all pending rows go in one insert; memory is bounded by `maxRuntimes`.
 */
export interface RuntimeCheckIns {
  record(report: CheckInReport): void;
  /** Runtimes whose last check-in covered `tenantId` and came at or after `sinceMs`, newest first. */
  forTenant(tenantId: string, sinceMs: number): Promise<RuntimeCheckIn[]>;
  /** Writes what is pending and stops the timer. */
  close(): Promise<void>;
}

interface Seen {
  runtimeId: string;
  name: string;
  tenants: string[];
  appliedVersion: number;
  /** Unknown until the store was asked (another instance, or this one before a restart, may have seen it first). */
  firstSeenMs: number;
  lastSeenMs: number;
  writtenMs: number;
}

interface StoredCheckIn {
  runtime_id: string;
  name: string;
  tenants: string[];
  applied_version: number | string;
  first_ms: number | string;
  last_ms: number | string;
}

/** Creates the check-in log over a gateway migrated to 0005 (runtime_checkins). */
export function createRuntimeCheckIns(gateway: ClickHouseGateway, options: RuntimeCheckInsOptions = {}): RuntimeCheckIns {
  const refreshIntervalMs = options.refreshIntervalMs ?? 30_000;
  const flushDelayMs = options.flushDelayMs ?? 1_000;
  const maxRuntimes = options.maxRuntimes ?? 10_000;
  const onError = options.onError ?? (() => undefined);
  const now = options.now ?? Date.now;
  const seen = new Map<string, Seen>();
  const pending = new Map<string, Seen>();
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();

  function schedule(): void {
    if (timer !== undefined || pending.size === 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      flushing = flushing.then(flush);
    }, flushDelayMs);
    timer.unref();
  }

  async function flush(): Promise<void> {
    if (pending.size === 0) return;
    const batch = [...pending.values()].map((s) => ({ ...s }));
    pending.clear();
    try {
      // The earliest first sighting any instance stored wins.
      const stored = await gateway.query<{ runtime_id: string; first_ms: number | string }>(
        "SELECT runtime_id, toUnixTimestamp64Milli(min(first_seen)) AS first_ms FROM runtime_checkins WHERE runtime_id IN {ids:Array(String)} GROUP BY runtime_id",
        { ids: batch.map((s) => s.runtimeId) },
      );
      const firstMs = new Map(stored.map((r) => [r.runtime_id, Number(r.first_ms)]));
      for (const s of batch) {
        const earlier = firstMs.get(s.runtimeId);
        if (earlier !== undefined && earlier < s.firstSeenMs) {
          s.firstSeenMs = earlier;
          const current = seen.get(s.runtimeId);
          if (current) current.firstSeenMs = Math.min(current.firstSeenMs, earlier);
        }
      }
      await gateway.insert(
        "runtime_checkins",
        batch.map((s) => ({
          runtime_id: s.runtimeId,
          name: s.name,
          tenants: s.tenants,
          applied_version: s.appliedVersion,
          first_seen: toClickHouseDateTime(s.firstSeenMs),
          last_seen: toClickHouseDateTime(s.lastSeenMs),
        })),
      );
    } catch (err) {
      onError(err);
      for (const s of batch) if (!pending.has(s.runtimeId) && pending.size < maxRuntimes) pending.set(s.runtimeId, s);
      schedule();
    }
  }

  return {
    record(report: CheckInReport): void {
      const at = now();
      const tenants = [...new Set(report.tenants)].sort();
      const before = seen.get(report.runtimeId);
      const entry: Seen = {
        runtimeId: report.runtimeId,
        name: report.name,
        tenants,
        appliedVersion: report.appliedVersion,
        firstSeenMs: before?.firstSeenMs ?? at,
        lastSeenMs: at,
        writtenMs: before?.writtenMs ?? 0,
      };
      const news =
        !before ||
        before.appliedVersion !== entry.appliedVersion ||
        before.name !== entry.name ||
        before.tenants.length !== tenants.length ||
        before.tenants.some((t, i) => t !== tenants[i]);
      if (news || at - entry.writtenMs >= refreshIntervalMs) {
        entry.writtenMs = at;
        pending.delete(entry.runtimeId);
        if (pending.size < maxRuntimes) pending.set(entry.runtimeId, entry);
        schedule();
      }
      // Map order is recency: the least recently seen runtime is forgotten first.
      seen.delete(entry.runtimeId);
      if (seen.size >= maxRuntimes) seen.delete(seen.keys().next().value as string);
      seen.set(entry.runtimeId, entry);
    },

    async forTenant(tenantId: string, sinceMs: number): Promise<RuntimeCheckIn[]> {
      const rows = await gateway.query<StoredCheckIn>(
        `SELECT runtime_id, name, tenants, applied_version, toUnixTimestamp64Milli(first_seen) AS first_ms, toUnixTimestamp64Milli(last_seen) AS last_ms
         FROM runtime_checkins FINAL
         WHERE has(tenants, {tenant:String}) AND last_seen >= fromUnixTimestamp64Milli({sinceMs:Int64}, 'UTC')`,
        { tenant: tenantId, sinceMs },
      );
      const latest = new Map<string, Omit<Seen, "writtenMs">>();
      for (const r of rows) {
        latest.set(r.runtime_id, {
          runtimeId: r.runtime_id,
          name: r.name,
          tenants: r.tenants,
          appliedVersion: Number(r.applied_version),
          firstSeenMs: Number(r.first_ms),
          lastSeenMs: Number(r.last_ms),
        });
      }
      // This instance's memory is newer than what it wrote (the store holds other instances' check-ins too).
      for (const s of seen.values()) {
        const stored = latest.get(s.runtimeId);
        if (stored && stored.lastSeenMs > s.lastSeenMs) continue;
        latest.set(s.runtimeId, { ...s, firstSeenMs: Math.min(s.firstSeenMs, stored?.firstSeenMs ?? s.firstSeenMs) });
      }
      return [...latest.values()]
        .filter((s) => s.lastSeenMs >= sinceMs && s.tenants.includes(tenantId))
        .sort((a, b) => b.lastSeenMs - a.lastSeenMs || a.runtimeId.localeCompare(b.runtimeId))
        .map((s) => ({
          runtimeId: s.runtimeId,
          name: s.name,
          tenants: [...s.tenants],
          appliedVersion: s.appliedVersion,
          firstSeenAt: new Date(s.firstSeenMs).toISOString(),
          lastSeenAt: new Date(s.lastSeenMs).toISOString(),
        }));
    },

    async close(): Promise<void> {
      clearTimeout(timer);
      timer = undefined;
      await flushing;
      await flush();
    },
  };
}

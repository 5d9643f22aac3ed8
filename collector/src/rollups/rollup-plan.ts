import type { ClickHouseGateway, QueryParams } from "../store/clickhouse-gateway.js";
import { hourOf, minuteOf, type RollupSource } from "./rollup-source.js";
import { rawFlatRowsSql, rollupFlatRowsSql } from "./rollup-sql.js";

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
/** Past this many stale buckets a plan reads the raw table for the whole range (right after an upgrade). */
const MAX_STALE_BUCKETS = 20_000;
/** The raw part's time filter is at most this many ranges (merged over the smallest gaps). */
const MAX_RAW_RANGES = 16;

/** Whose rows: one tenant, the listed tenants, or (undefined) all. */
export type RollupScope = { tenantId: string } | { tenantIds?: readonly string[] | undefined };

/** A half-open range in epoch ms. */
export interface RollupRange {
  fromMs: number;
  toMs: number;
}

/** What a read needs of the plan. */
export interface RollupPlanOptions {
  /** Whether whole hours may be read from hour rows (figures over the range, not per minute). */
  hours: boolean;
  /** Whether minute-level rows over the whole range will also be asked for (series per minute). */
  minutes?: boolean;
}

/** SQL that yields flat rollup rows (tenant_id, bucket, columns…), with its bound values. */
export interface RollupRowsSql {
  /**
   * A subquery aliased `r`, for `FROM ${sql}`. Aggregates refer to its columns as `r.<name>`: an
   * output alias named like a column (`sum(r.spans) AS spans`) would otherwise shadow it.
   */
  sql: string;
  params: QueryParams;
}

/**
 * Which rows answer a read of `source` over a range, exactly: whole hours from hour rollups and
 * whole minutes from minute rollups where those are current, and raw rows (FINAL) for the rest:
 * the partial minutes at the range's edges and every bucket that received rows after its rollup
 * was built (its latest mark is newer than the rollup's version) or has none yet. Each raw row is
 * counted in exactly one bucket of one level, so the figures equal those of the raw table read with
 * FINAL, whatever was replayed or re-sent.
 *
 * A plan is made from the marks and rollup versions seen at one moment; rows read later come from
 * the latest build of each bucket the plan took as current (a later build covers at least as much),
 * so a read racing the sealer neither misses nor double-counts a bucket. Rows inserted while the
 * read runs may or may not be counted, as with any read of the raw table.
 */
export class RollupPlan {
  readonly source: RollupSource;
  readonly #scope: RollupScope;
  readonly #range: RollupRange;
  readonly #minutes: { fromMs: number; toMs: number } | null;
  readonly #hours: { fromMs: number; toMs: number } | null;
  readonly #staleHours: ReadonlySet<string>;
  readonly #staleMinutes: readonly StaleBucket[];
  readonly #allRaw: boolean;
  readonly #options: RollupPlanOptions;

  private constructor(source: RollupSource, scope: RollupScope, range: RollupRange, options: RollupPlanOptions, staleHours: ReadonlySet<string>, staleMinutes: readonly StaleBucket[], allRaw: boolean) {
    this.source = source;
    this.#scope = scope;
    this.#range = range;
    this.#options = options;
    this.#minutes = wholeMinutes(range);
    this.#hours = options.hours ? wholeHours(range) : null;
    this.#staleHours = staleHours;
    this.#staleMinutes = staleMinutes;
    this.#allRaw = allRaw;
  }

  /** Reads the marks and rollup versions of the range and plans what to read from where. */
  static async make(gateway: ClickHouseGateway, source: RollupSource, scope: RollupScope, range: RollupRange, options: RollupPlanOptions): Promise<RollupPlan> {
    const [plan] = await RollupPlan.makeAll(gateway, [source], scope, range, options);
    return plan;
  }

  /** `make` for several sources over the same scope and range, in one query; plans in the order of `sources`. */
  static async makeAll<const S extends readonly RollupSource[]>(gateway: ClickHouseGateway, sources: S, scope: RollupScope, range: RollupRange, options: RollupPlanOptions): Promise<{ [K in keyof S]: RollupPlan }> {
    const minutes = wholeMinutes(range);
    if (!minutes) return sources.map((source) => new RollupPlan(source, scope, range, options, new Set(), [], true)) as { [K in keyof S]: RollupPlan };
    const hours = options.hours ? wholeHours(range) : null;
    const allMinutes = options.minutes === true || !options.hours;
    const rows = await gateway.query<{ source: string; level: "h" | "m"; tenant_id: string; t: number | string }>(
      sources.map((s) => `SELECT '${s.name}' AS source, level, tenant_id, t FROM (${coverageSql(s, scopeSql(scope), hours !== null, allMinutes)})`).join("\n UNION ALL \n"),
      { ...scopeParams(scope), rl_mA: minutes.fromMs / 1000, rl_mB: minutes.toMs / 1000, ...(hours ? { rl_hA: hours.fromMs / 1000, rl_hB: hours.toMs / 1000 } : {}) },
    );
    return sources.map((source) => {
      const mine = rows.filter((r) => r.source === source.name);
      if (mine.length > MAX_STALE_BUCKETS) return new RollupPlan(source, scope, range, options, new Set(), [], true);
      const staleHours = new Set<string>();
      const staleMinutes: StaleBucket[] = [];
      for (const r of mine) {
        if (r.level === "h") staleHours.add(`${r.tenant_id}|${Number(r.t)}`);
        else staleMinutes.push({ tenantId: r.tenant_id, sec: Number(r.t) });
      }
      return new RollupPlan(source, scope, range, options, staleHours, staleMinutes, false);
    }) as { [K in keyof S]: RollupPlan };
  }

  /**
   * SQL of the flat rows that answer the read: with `hours`, whole hours come from hour rows
   * (only for figures over the range); without, every bucket is a minute (for series per minute;
   * the plan must have been made with `minutes` or without `hours`).
   */
  rows(columns: readonly string[], level: { hours: boolean }): RollupRowsSql {
    if (level.hours && !this.#options.hours) throw new Error("this rollup plan was made without hours");
    if (!level.hours && this.#options.hours && !this.#options.minutes) throw new Error("this rollup plan was made for hours only");
    const source = this.source;
    const scope = scopeSql(this.#scope);
    const params: Record<string, QueryParams[string]> = { ...scopeParams(this.#scope) };
    const parts: string[] = [];
    const minutes = this.#allRaw ? null : this.#minutes;
    const hours = level.hours && minutes ? this.#hours : null;
    const hourKey = (sec: number, tenantId: string) => `${tenantId}|${Math.floor(sec / 3600) * 3600}`;
    const inHourRows = (b: StaleBucket) => hours !== null && b.sec * 1000 >= hours.fromMs && b.sec * 1000 < hours.toMs && !this.#staleHours.has(hourKey(b.sec, b.tenantId));
    const staleMinutes = this.#staleMinutes.filter((b) => !inHourRows(b));
    const staleHourKeys = [...this.#staleHours];

    if (hours) {
      params.rl_hA = hours.fromMs / 1000;
      params.rl_hB = hours.toMs / 1000;
      let where = `${scope} AND bucket >= toDateTime({rl_hA:UInt32}, 'UTC') AND bucket < toDateTime({rl_hB:UInt32}, 'UTC')`;
      if (staleHourKeys.length > 0) {
        params.rl_staleHours = staleHourKeys;
        where += ` AND ${bucketKey("bucket")} NOT IN {rl_staleHours:Array(String)}`;
      }
      parts.push(rollupFlatRowsSql(source, source.hourTable, columns, where));
    }
    if (minutes) {
      params.rl_mA = minutes.fromMs / 1000;
      params.rl_mB = minutes.toMs / 1000;
      let where = `${scope} AND bucket >= toDateTime({rl_mA:UInt32}, 'UTC') AND bucket < toDateTime({rl_mB:UInt32}, 'UTC')`;
      if (hours) {
        where += ` AND (bucket < toDateTime({rl_hA:UInt32}, 'UTC') OR bucket >= toDateTime({rl_hB:UInt32}, 'UTC')`;
        where += staleHourKeys.length > 0 ? ` OR ${bucketKey("toStartOfHour(bucket)")} IN {rl_staleHours:Array(String)})` : ")";
      }
      if (staleMinutes.length > 0) {
        params.rl_staleMinutes = staleMinutes.map((b) => `${b.tenantId}|${b.sec}`);
        where += ` AND ${bucketKey("bucket")} NOT IN {rl_staleMinutes:Array(String)}`;
      }
      parts.push(rollupFlatRowsSql(source, source.minuteTable, columns, where));
    }

    // Raw rows: the partial minutes at the edges (or the whole range), and the stale minutes.
    const time = source.timeColumn;
    const rangeSql = (name: string, fromMs: number, toMs: number) => {
      params[`${name}_from`] = fromMs;
      params[`${name}_to`] = toMs;
      return `(${time} >= fromUnixTimestamp64Milli({${name}_from:Int64}, 'UTC') AND ${time} < fromUnixTimestamp64Milli({${name}_to:Int64}, 'UTC'))`;
    };
    const rawParts: string[] = [];
    if (!minutes) rawParts.push(rangeSql("rl_edge0", this.#range.fromMs, this.#range.toMs));
    else {
      if (this.#range.fromMs < minutes.fromMs) rawParts.push(rangeSql("rl_edge0", this.#range.fromMs, minutes.fromMs));
      if (minutes.toMs < this.#range.toMs) rawParts.push(rangeSql("rl_edge1", minutes.toMs, this.#range.toMs));
      if (staleMinutes.length > 0) {
        const coarse = coarseRanges(staleMinutes.map((b) => b.sec * 1000));
        const within = coarse.map(([from, to], i) => rangeSql(`rl_raw${i}`, from, to)).join(" OR ");
        rawParts.push(`((${within}) AND ${bucketKey(minuteOf(source))} IN {rl_staleMinutes:Array(String)})`);
      }
    }
    if (rawParts.length > 0) parts.push(rawFlatRowsSql(source, columns, minuteOf(source), `${scope} AND (${rawParts.join(" OR ")})`));
    // A range with nothing to read still answers with the right columns.
    if (parts.length === 0) parts.push(`${rollupFlatRowsSql(source, source.minuteTable, columns, "0")}`);
    return { sql: `(${parts.join("\n UNION ALL \n")}) AS r`, params };
  }

  /** How the plan reads (for tests and benchmarks): stale buckets, and whether it fell back to raw rows. */
  describe(): { staleHours: number; staleMinutes: number; allRaw: boolean } {
    return { staleHours: this.#staleHours.size, staleMinutes: this.#staleMinutes.length, allRaw: this.#allRaw };
  }
}

interface StaleBucket {
  tenantId: string;
  /** The bucket's start, epoch seconds. */
  sec: number;
}

/** The whole minutes inside the range, or null when there is none. */
function wholeMinutes(range: RollupRange): { fromMs: number; toMs: number } | null {
  const fromMs = Math.ceil(range.fromMs / MINUTE_MS) * MINUTE_MS;
  const toMs = Math.floor(range.toMs / MINUTE_MS) * MINUTE_MS;
  return fromMs < toMs ? { fromMs, toMs } : null;
}

/** The whole hours inside the range, or null when there is none. */
function wholeHours(range: RollupRange): { fromMs: number; toMs: number } | null {
  const fromMs = Math.ceil(range.fromMs / HOUR_MS) * HOUR_MS;
  const toMs = Math.floor(range.toMs / HOUR_MS) * HOUR_MS;
  return fromMs < toMs ? { fromMs, toMs } : null;
}

/** SQL: "tenant|epoch seconds" of a bucket expression, the key the plan's lists hold. */
function bucketKey(bucketSql: string): string {
  return `concat(tenant_id, '|', toString(toUInt32(${bucketSql})))`;
}

function scopeSql(scope: RollupScope): string {
  if ("tenantId" in scope) return "tenant_id = {rl_tenant:String}";
  return scope.tenantIds ? "tenant_id IN {rl_tenants:Array(String)}" : "1 = 1";
}

function scopeParams(scope: RollupScope): QueryParams {
  if ("tenantId" in scope) return { rl_tenant: scope.tenantId };
  return scope.tenantIds ? { rl_tenants: [...scope.tenantIds] } : {};
}

/**
 * SQL: the stale buckets of a range, as rows (level 'h' or 'm', tenant_id, t = bucket start in
 * epoch seconds). An hour is stale when it was marked after its hour row's version (or has none);
 * a minute likewise against its minute row. With hours, minutes are looked at only where hour rows
 * will not be read (outside whole hours, or in stale hours), unless `allMinutes` (a per-minute
 * series is read too).
 */
function coverageSql(source: RollupSource, scope: string, hours: boolean, allMinutes: boolean): string {
  const between = (a: string, b: string) => `bucket >= toDateTime({${a}:UInt32}, 'UTC') AND bucket < toDateTime({${b}:UInt32}, 'UTC')`;
  const stale = (marks: string, rollups: string, range: string, area: string) => `
    SELECT k.tenant_id AS tenant_id, k.bucket AS bucket
    FROM (SELECT tenant_id, bucket, max(last_insert_at) AS last FROM ${marks} WHERE ${scope} AND ${range}${area} GROUP BY tenant_id, bucket) AS k
    LEFT JOIN (SELECT tenant_id, bucket, max(version) AS v FROM ${rollups} WHERE ${scope} AND ${range}${area} GROUP BY tenant_id, bucket) AS r
      ON k.tenant_id = r.tenant_id AND k.bucket = r.bucket
    WHERE r.v < k.last`;
  const area = hours && !allMinutes
    ? " AND (bucket < toDateTime({rl_hA:UInt32}, 'UTC') OR bucket >= toDateTime({rl_hB:UInt32}, 'UTC') OR (tenant_id, toStartOfHour(bucket)) IN (SELECT tenant_id, bucket FROM stale_hours))"
    : "";
  const staleMinutes = `SELECT 'm' AS level, tenant_id, toUInt32(bucket) AS t FROM (${stale(source.minuteMarksTable, source.minuteTable, between("rl_mA", "rl_mB"), area)}) LIMIT ${MAX_STALE_BUCKETS + 1}`;
  if (!hours) return staleMinutes;
  return `WITH stale_hours AS (${stale(source.hourMarksTable, source.hourTable, between("rl_hA", "rl_hB"), "")})
    SELECT 'h' AS level, tenant_id, toUInt32(bucket) AS t FROM stale_hours
    UNION ALL
    ${staleMinutes}`;
}

/** Sorted minute starts (ms) as at most MAX_RAW_RANGES half-open ranges covering them all. */
function coarseRanges(minuteStartsMs: readonly number[]): [number, number][] {
  const starts = [...new Set(minuteStartsMs)].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const s of starts) {
    const last = ranges[ranges.length - 1];
    if (last && last[1] === s) last[1] = s + MINUTE_MS;
    else ranges.push([s, s + MINUTE_MS]);
  }
  while (ranges.length > MAX_RAW_RANGES) {
    let best = 1;
    for (let i = 2; i < ranges.length; i++) if (ranges[i]![0] - ranges[i - 1]![1] < ranges[best]![0] - ranges[best - 1]![1]) best = i;
    ranges[best - 1]![1] = ranges[best]![1];
    ranges.splice(best, 1);
  }
  return ranges;
}

/** Used by the sealer: the bucket SQL of each level. */
export function bucketSqlOf(source: RollupSource, level: "minute" | "hour"): string {
  return level === "minute" ? minuteOf(source) : hourOf(source);
}

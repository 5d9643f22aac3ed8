import type { ClickHouseGateway, QueryParams } from "../store/clickhouse-gateway.js";
import { hourOf, minuteOf, rawTableFor, type RollupSource } from "./rollup-source.js";
import { rawFlatRowsSql, rollupFlatRowsSql } from "./rollup-sql.js";

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
/** Past this many stale buckets a plan reads the raw table for the whole range (right after an upgrade). */
const MAX_STALE_BUCKETS = 20_000;
/** A time filter over scattered buckets is at most this many ranges (merged over the smallest gaps). */
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
  /**
   * The current time (default: the clock). Hours from the current one on are read at the minute
   * level: they cannot have a current hour row yet, and one range of minutes is cheaper to check
   * than a stale hour for every tenant. Only cost depends on it, never a figure.
   */
  nowMs?: number;
}

/**
 * SQL that yields flat rollup rows (tenant_id, bucket, columns…), with its bound values (named
 * after the source: the rows of a span plan and of a usage plan can be read in one statement).
 */
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

  private constructor(
    source: RollupSource,
    scope: RollupScope,
    range: RollupRange,
    options: RollupPlanOptions,
    hours: { fromMs: number; toMs: number } | null,
    staleHours: ReadonlySet<string>,
    staleMinutes: readonly StaleBucket[],
    allRaw: boolean,
  ) {
    this.source = source;
    this.#scope = scope;
    this.#range = range;
    this.#options = options;
    this.#minutes = wholeMinutes(range);
    // The hours the stale buckets were looked up for (the clock must not move them afterwards).
    this.#hours = hours;
    this.#staleHours = staleHours;
    this.#staleMinutes = staleMinutes;
    this.#allRaw = allRaw;
  }

  /** Reads the marks and rollup versions of the range and plans what to read from where. */
  static async make(gateway: ClickHouseGateway, source: RollupSource, scope: RollupScope, range: RollupRange, options: RollupPlanOptions): Promise<RollupPlan> {
    const [plan] = await RollupPlan.makeAll(gateway, [source], scope, range, options);
    return plan;
  }

  /**
   * `make` for several sources over the same scope and range; plans in the order of `sources`. One
   * query, or, for hour reads of several tenants, two: minutes are then looked at only outside hours
   * that are current (the stale hours first, then the minutes that matter).
   */
  static async makeAll<const S extends readonly RollupSource[]>(gateway: ClickHouseGateway, sources: S, scope: RollupScope, asked: RollupRange, options: RollupPlanOptions): Promise<{ [K in keyof S]: RollupPlan }> {
    type Plans = { [K in keyof S]: RollupPlan };
    // Nothing is stored before 1970 (the collector refuses such spans), and buckets are unsigned.
    const range = { fromMs: Math.max(0, asked.fromMs), toMs: Math.max(0, asked.toMs) };
    const minutes = wholeMinutes(range);
    if (!minutes) return sources.map((source) => new RollupPlan(source, scope, range, options, null, new Set(), [], true)) as Plans;
    const hours = options.hours ? wholeHours(range, options.nowMs) : null;
    const params: Record<string, QueryParams[string]> = {
      ...scopeParams(scope),
      rl_mA: minutes.fromMs / 1000,
      rl_mB: minutes.toMs / 1000,
      ...(hours ? { rl_hA: hours.fromMs / 1000, rl_hB: hours.toMs / 1000 } : {}),
    };
    const union = (parts: string[]) => parts.join("\n UNION ALL \n");
    const staleOf = new Map<string, { hours: Set<string>; minutes: StaleBucket[]; count: number }>(sources.map((s) => [s.name, { hours: new Set<string>(), minutes: [], count: 0 }]));
    const collect = (rows: readonly { source: string; level: "h" | "m"; tenant_id: string; t: number | string }[]) => {
      for (const r of rows) {
        const stale = staleOf.get(r.source)!;
        stale.count++;
        if (r.level === "h") stale.hours.add(`${r.tenant_id}|${Number(r.t)}`);
        else stale.minutes.push({ tenantId: r.tenant_id, sec: Number(r.t) });
      }
    };
    const scopeText = scopeSql(scope);
    // Across all tenants, the minutes inside current hours are too many to look at: the stale hours
    // come first, then only the minutes that matter. One tenant's minutes of a month are fewer rows
    // than a second query costs to plan.
    const oneTenant = "tenantId" in scope || scope.tenantIds?.length === 1;
    if (hours && !options.minutes && !oneTenant) {
      collect(await gateway.query(union(sources.map((s) => `SELECT '${s.name}' AS source, 'h' AS level, tenant_id, toUInt32(bucket) AS t FROM (${staleHoursSql(s, scopeText)}) LIMIT ${MAX_STALE_BUCKETS + 1}`)), params));
      // Only the minutes outside whole hours or in stale ones.
      const staleMinutes = sources.map((s) => {
        const area = minuteAreaSql([...staleOf.get(s.name)!.hours], params, "rl_", `rl_${s.name}_sh`);
        return `SELECT '${s.name}' AS source, 'm' AS level, tenant_id, t FROM (${staleMinutesSql(s, scopeText, area)})`;
      });
      collect(await gateway.query(union(staleMinutes), params));
    } else {
      collect(
        await gateway.query(
          union(
            sources.flatMap((s) => [
              ...(hours ? [`SELECT '${s.name}' AS source, 'h' AS level, tenant_id, toUInt32(bucket) AS t FROM (${staleHoursSql(s, scopeText)}) LIMIT ${MAX_STALE_BUCKETS + 1}`] : []),
              `SELECT '${s.name}' AS source, 'm' AS level, tenant_id, t FROM (${staleMinutesSql(s, scopeText, null)})`,
            ]),
          ),
          params,
        ),
      );
    }
    return sources.map((source) => {
      const stale = staleOf.get(source.name)!;
      if (stale.count > MAX_STALE_BUCKETS) return new RollupPlan(source, scope, range, options, null, new Set(), [], true);
      return new RollupPlan(source, scope, range, options, hours, stale.hours, stale.minutes, false);
    }) as Plans;
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
    // Parameter names carry the source, so that rows of several plans can share one statement.
    const p = `rl_${source.name}_`;
    const scope = scopeSql(this.#scope, p);
    const params: Record<string, QueryParams[string]> = { ...scopeParams(this.#scope, p) };
    const parts: string[] = [];
    const minutes = this.#allRaw ? null : this.#minutes;
    const hours = level.hours && minutes ? this.#hours : null;
    const hourKey = (sec: number, tenantId: string) => `${tenantId}|${Math.floor(sec / 3600) * 3600}`;
    const inHourRows = (b: StaleBucket) => hours !== null && b.sec * 1000 >= hours.fromMs && b.sec * 1000 < hours.toMs && !this.#staleHours.has(hourKey(b.sec, b.tenantId));
    const staleMinutes = this.#staleMinutes.filter((b) => !inHourRows(b));
    const staleHourKeys = [...this.#staleHours];
    const between = (a: string, b: string) => `bucket >= toDateTime({${p}${a}:UInt32}, 'UTC') AND bucket < toDateTime({${p}${b}:UInt32}, 'UTC')`;

    if (hours) {
      params[`${p}hA`] = hours.fromMs / 1000;
      params[`${p}hB`] = hours.toMs / 1000;
      let where = `${scope} AND ${between("hA", "hB")}`;
      if (staleHourKeys.length > 0) {
        params[`${p}staleHours`] = staleHourKeys;
        where += ` AND ${bucketKey("bucket")} NOT IN {${p}staleHours:Array(String)}`;
      }
      parts.push(rollupFlatRowsSql(source, source.hourTable, columns, where));
    }
    if (minutes) {
      params[`${p}mA`] = minutes.fromMs / 1000;
      params[`${p}mB`] = minutes.toMs / 1000;
      let where = `${scope} AND ${between("mA", "mB")}`;
      // Exactly the minutes hour rows do not answer (a minute of a current hour would count twice).
      if (hours) where += ` AND ${minuteAreaSql(staleHourKeys, params, p, `${p}sh`)}`;
      if (staleMinutes.length > 0) {
        params[`${p}staleMinutes`] = staleMinutes.map((b) => `${b.tenantId}|${b.sec}`);
        where += ` AND ${bucketKey("bucket")} NOT IN {${p}staleMinutes:Array(String)}`;
      }
      parts.push(rollupFlatRowsSql(source, source.minuteTable, columns, where));
    }

    // Raw rows: the partial minutes at the edges (or the whole range), and the stale minutes.
    const time = source.timeColumn;
    let rawFromMs = Infinity;
    const rangeSql = (name: string, fromMs: number, toMs: number) => {
      rawFromMs = Math.min(rawFromMs, fromMs);
      params[`${p}${name}_from`] = fromMs;
      params[`${p}${name}_to`] = toMs;
      return `(${time} >= fromUnixTimestamp64Milli({${p}${name}_from:Int64}, 'UTC') AND ${time} < fromUnixTimestamp64Milli({${p}${name}_to:Int64}, 'UTC'))`;
    };
    const rawParts: string[] = [];
    if (!minutes) rawParts.push(rangeSql("edge0", this.#range.fromMs, this.#range.toMs));
    else {
      if (this.#range.fromMs < minutes.fromMs) rawParts.push(rangeSql("edge0", this.#range.fromMs, minutes.fromMs));
      if (minutes.toMs < this.#range.toMs) rawParts.push(rangeSql("edge1", minutes.toMs, this.#range.toMs));
      if (staleMinutes.length > 0) {
        const coarse = coarseRanges(staleMinutes.map((b) => b.sec * 1000));
        const within = coarse.map(([from, to], i) => rangeSql(`raw${i}`, from, to)).join(" OR ");
        rawParts.push(`((${within}) AND ${bucketKey(minuteOf(source))} IN {${p}staleMinutes:Array(String)})`);
      }
    }
    if (rawParts.length > 0) {
      const table = rawTableFor(source, rawFromMs, this.#options.nowMs);
      parts.push(rawFlatRowsSql(source, columns, minuteOf(source), `${scope} AND (${rawParts.join(" OR ")})`, false, table));
    }
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

/** The whole hours inside the range that are over by `nowMs`, or null when there is none. */
function wholeHours(range: RollupRange, nowMs = Date.now()): { fromMs: number; toMs: number } | null {
  const fromMs = Math.ceil(range.fromMs / HOUR_MS) * HOUR_MS;
  const toMs = Math.floor(Math.min(range.toMs, nowMs) / HOUR_MS) * HOUR_MS;
  return fromMs < toMs ? { fromMs, toMs } : null;
}

/** SQL: "tenant|epoch seconds" of a bucket expression, the key the plan's lists hold. */
function bucketKey(bucketSql: string): string {
  return `concat(tenant_id, '|', toString(toUInt32(${bucketSql})))`;
}

function scopeSql(scope: RollupScope, prefix = "rl_"): string {
  if ("tenantId" in scope) return `tenant_id = {${prefix}tenant:String}`;
  return scope.tenantIds ? `tenant_id IN {${prefix}tenants:Array(String)}` : "1 = 1";
}

function scopeParams(scope: RollupScope, prefix = "rl_"): QueryParams {
  if ("tenantId" in scope) return { [`${prefix}tenant`]: scope.tenantId };
  return scope.tenantIds ? { [`${prefix}tenants`]: [...scope.tenantIds] } : {};
}

/**
 * SQL: the minutes that hour rows do not answer — outside the whole hours, or in a stale hour
 * ("tenant|epoch seconds") — as time ranges the primary key (tenant_id, bucket) can skip by, the
 * stale hours narrowed by their keys; values bound into `params` under `prefix`.
 */
function minuteAreaSql(staleHours: readonly string[], params: Record<string, QueryParams[string]>, rangePrefix: string, prefix: string): string {
  const terms = [
    `(bucket >= toDateTime({${rangePrefix}mA:UInt32}, 'UTC') AND bucket < toDateTime({${rangePrefix}hA:UInt32}, 'UTC'))`,
    `(bucket >= toDateTime({${rangePrefix}hB:UInt32}, 'UTC') AND bucket < toDateTime({${rangePrefix}mB:UInt32}, 'UTC'))`,
  ];
  if (staleHours.length > 0) {
    const starts = staleHours.map((key) => Number(key.slice(key.lastIndexOf("|") + 1)) * 1000);
    const within = coarseRanges(starts, HOUR_MS).map(([from, to], i) => {
      params[`${prefix}${i}_from`] = from / 1000;
      params[`${prefix}${i}_to`] = to / 1000;
      return `(bucket >= toDateTime({${prefix}${i}_from:UInt32}, 'UTC') AND bucket < toDateTime({${prefix}${i}_to:UInt32}, 'UTC'))`;
    });
    params[prefix] = [...staleHours];
    terms.push(`((${within.join(" OR ")}) AND ${bucketKey("toStartOfHour(bucket)")} IN {${prefix}:Array(String)})`);
  }
  return `(${terms.join(" OR ")})`;
}

/**
 * SQL: the buckets of a level whose latest mark is newer than their rollup's version (or that have
 * none). One pass over both tables grouped by bucket, not a join: the engine plans a join at several
 * times the cost of the whole read.
 */
function staleSql(marks: string, rollups: string, scope: string, where: string): string {
  return `SELECT tenant_id, bucket FROM (
      SELECT tenant_id, bucket, last_insert_at AS last, toDateTime64(0, 3, 'UTC') AS v FROM ${marks} WHERE ${scope} AND ${where}
      UNION ALL
      SELECT tenant_id, bucket, toDateTime64(0, 3, 'UTC') AS last, version AS v FROM ${rollups} WHERE ${scope} AND ${where}
    )
    GROUP BY tenant_id, bucket HAVING max(v) < max(last)`;
}

/** SQL: the stale whole hours of the range (tenant_id, bucket). */
function staleHoursSql(source: RollupSource, scope: string): string {
  return staleSql(source.hourMarksTable, source.hourTable, scope, "bucket >= toDateTime({rl_hA:UInt32}, 'UTC') AND bucket < toDateTime({rl_hB:UInt32}, 'UTC')");
}

/** SQL: the stale whole minutes of the range (tenant_id, t = epoch seconds), within `areaSql` when given. */
function staleMinutesSql(source: RollupSource, scope: string, areaSql: string | null): string {
  let where = "bucket >= toDateTime({rl_mA:UInt32}, 'UTC') AND bucket < toDateTime({rl_mB:UInt32}, 'UTC')";
  if (areaSql) where += ` AND ${areaSql}`;
  return `SELECT tenant_id, toUInt32(bucket) AS t FROM (${staleSql(source.minuteMarksTable, source.minuteTable, scope, where)}) LIMIT ${MAX_STALE_BUCKETS + 1}`;
}

/** Bucket starts (ms) of buckets `sizeMs` long as at most MAX_RAW_RANGES half-open ranges covering them all. */
function coarseRanges(bucketStartsMs: readonly number[], sizeMs = MINUTE_MS): [number, number][] {
  const starts = [...new Set(bucketStartsMs)].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const s of starts) {
    const last = ranges[ranges.length - 1];
    if (last && last[1] >= s) last[1] = Math.max(last[1], s + sizeMs);
    else ranges.push([s, s + sizeMs]);
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

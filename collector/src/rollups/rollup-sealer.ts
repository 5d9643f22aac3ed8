import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { bucketSqlOf } from "./rollup-plan.js";
import { rawTableFor, type RollupSource } from "./rollup-source.js";
import { allColumns, rawFlatRowsSql } from "./rollup-sql.js";
import { SPAN_ROLLUP } from "./span-rollup.js";
import { USAGE_ROLLUP } from "./usage-rollup.js";

/** How the sealer paces itself. */
export interface RollupSealerOptions {
  /**
   * A bucket is built once no rows arrived for it for this long, and a build covers the inserts
   * marked up to this long before it started: an insert must finish within it. Default 60 s.
   */
  quietMs: number;
  /** Pause between passes. Default 10 s. */
  intervalMs: number;
  /** Most builds (one INSERT … SELECT over one tenant's run of buckets) per pass. Default 20. */
  maxBuildsPerPass: number;
  /** At start, marks older than this are not looked at (their buckets stay read from raw rows). Default 7 days. */
  lookbackMs: number;
}

/** Defaults of RollupSealerOptions. */
export const DEFAULT_ROLLUP_SEALER_OPTIONS: RollupSealerOptions = { quietMs: 60_000, intervalMs: 10_000, maxBuildsPerPass: 20, lookbackMs: 7 * 86_400_000 };

/** What one pass did. */
export interface SealPassStats {
  /** Builds run (each one tenant's run of minutes or hours). */
  builds: number;
  /** Buckets rebuilt, minutes and hours. */
  minutes: number;
  hours: number;
  /** Stale buckets left for a later pass (not quiet yet, hours not over, or past the pass's budget). */
  waiting: number;
  /** Builds that failed (told to onError; retried by a later pass). */
  failed: number;
}

/** sealAll gives up after this many passes (rows arriving all along). */
const MAX_PASSES_OF_SEAL_ALL = 100;

/** Longest run of buckets one build covers, and the gap of current buckets it may bridge. */
const RUN = { minute: { sizeS: 60, maxLengthS: 6 * 3600, maxGapS: 5 * 60 }, hour: { sizeS: 3600, maxLengthS: 24 * 3600, maxGapS: 3600 } } as const;

interface Candidate {
  tenantId: string;
  /** Bucket start, epoch seconds. */
  sec: number;
  /** Latest mark of the bucket, epoch ms. */
  lastMs: number;
}

interface Build {
  source: RollupSource;
  level: "minute" | "hour";
  tenantId: string;
  fromS: number;
  toS: number;
  buckets: Candidate[];
}

/**
 * Builds rollup rows (migration 0008) from the raw tables read with FINAL, for every bucket whose
 * rows changed since its rollup was built: minutes once no rows arrived for them for `quietMs`,
 * hours once they are over as well. A build replaces the bucket's row (its version: the inserts
 * marked up to `quietMs` before the build started are in it). Reads never depend on the sealer
 * being on time: a bucket it has not rebuilt yet is read from the raw table (RollupPlan). Several
 * collectors may each run one; they only repeat each other's work. One pass at a time.
 */
export class RollupSealer {
  readonly #gateway: ClickHouseGateway;
  readonly #sources: readonly RollupSource[];
  readonly #onError: (err: unknown) => void;
  readonly #options: RollupSealerOptions;
  /** Per source: marks after this time (epoch ms) are looked at; before the first pass, unset. */
  readonly #sinceMs = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(deps: { gateway: ClickHouseGateway; sources?: readonly RollupSource[]; onError?: (err: unknown) => void }, options: Partial<RollupSealerOptions> = {}) {
    this.#gateway = deps.gateway;
    this.#sources = deps.sources ?? [SPAN_ROLLUP, USAGE_ROLLUP];
    this.#onError = deps.onError ?? (() => undefined);
    this.#options = { ...DEFAULT_ROLLUP_SEALER_OPTIONS, ...options };
  }

  /** Runs a pass every `intervalMs` until closed. */
  start(): void {
    if (this.#closed || this.#timer) return;
    const tick = () => {
      this.#timer = setTimeout(() => {
        void this.pass()
          .catch((err: unknown) => this.#onError(err))
          .finally(() => {
            if (!this.#closed) tick();
          });
      }, this.#options.intervalMs);
      this.#timer.unref();
    };
    tick();
  }

  /**
   * One pass over every source (after any pass already running). `quietMs` overrides the option;
   * `maxBuilds` the budget of builds.
   */
  pass(options: { quietMs?: number; maxBuilds?: number } = {}): Promise<SealPassStats> {
    const next = this.#running.then(() => this.#pass(options.quietMs ?? this.#options.quietMs, options.maxBuilds ?? this.#options.maxBuildsPerPass));
    this.#running = next.catch(() => undefined);
    return next;
  }

  /**
   * Passes until nothing is left to build now (for tests, benchmarks and tools; no budget per
   * pass). With `quietMs: 0` every stale bucket is built at once, hours included once they are over.
   */
  async sealAll(quietMs = this.#options.quietMs): Promise<SealPassStats> {
    const total: SealPassStats = { builds: 0, minutes: 0, hours: 0, waiting: 0, failed: 0 };
    // A pass leaves every bucket it built current; more passes only follow rows still arriving.
    for (let pass = 0; pass < MAX_PASSES_OF_SEAL_ALL; pass++) {
      const s = await this.pass({ quietMs, maxBuilds: Number.POSITIVE_INFINITY });
      total.builds += s.builds;
      total.minutes += s.minutes;
      total.hours += s.hours;
      total.failed += s.failed;
      total.waiting = s.waiting;
      if (s.builds === 0 || s.failed > 0) break;
    }
    return total;
  }

  /** Stops the passes; waits for one running. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  async #pass(quietMs: number, budget: number): Promise<SealPassStats> {
    const stats: SealPassStats = { builds: 0, minutes: 0, hours: 0, waiting: 0, failed: 0 };
    if (this.#closed) return stats;
    const [{ now }] = (await this.#gateway.query<{ now: number | string }>("SELECT toUnixTimestamp64Milli(now64(3, 'UTC')) AS now")) as [{ now: number | string }];
    const nowMs = Number(now);
    const quietBeforeMs = nowMs - quietMs;
    for (const source of this.#sources) {
      const sinceMs = this.#sinceMs.get(source.name) ?? nowMs - this.#options.lookbackMs;
      const [minutes, hours] = await Promise.all([this.#stale(source, "minute", sinceMs), this.#stale(source, "hour", sinceMs)]);
      const ready = (c: Candidate, sizeS: number) => c.lastMs <= quietBeforeMs && (sizeS === 60 || (c.sec + sizeS) * 1000 <= quietBeforeMs);
      const builds = [...runs(source, "minute", minutes.filter((c) => ready(c, 60))), ...runs(source, "hour", hours.filter((c) => ready(c, 3600)))];
      const left: Candidate[] = [...minutes.filter((c) => !ready(c, 60)), ...hours.filter((c) => !ready(c, 3600))];
      for (const build of builds) {
        if (this.#closed || stats.builds >= budget) {
          left.push(...build.buckets);
          continue;
        }
        try {
          await this.#build(build, quietMs, nowMs);
          stats.builds++;
          stats[build.level === "minute" ? "minutes" : "hours"] += build.buckets.length;
        } catch (err) {
          stats.failed++;
          left.push(...build.buckets);
          this.#onError(err);
        }
      }
      stats.waiting += left.length;
      // Look again at every bucket left, and at inserts that may still have been running.
      this.#sinceMs.set(source.name, left.reduce((min, c) => Math.min(min, c.lastMs), quietBeforeMs) - 1);
    }
    return stats;
  }

  /** Buckets of a level with marks after `sinceMs` whose rollup is older than their latest mark (or missing). */
  async #stale(source: RollupSource, level: "minute" | "hour", sinceMs: number): Promise<Candidate[]> {
    const [marks, table] = level === "minute" ? [source.minuteMarksTable, source.minuteTable] : [source.hourMarksTable, source.hourTable];
    const rows = await this.#gateway.query<{ tenant_id: string; t: number | string; last: number | string }>(
      `SELECT k.tenant_id AS tenant_id, toUInt32(k.bucket) AS t, toUnixTimestamp64Milli(k.last) AS last
       FROM (
         SELECT tenant_id, bucket, max(last_insert_at) AS last
         FROM ${marks}
         WHERE last_insert_at > fromUnixTimestamp64Milli({since:Int64}, 'UTC')
         GROUP BY tenant_id, bucket
       ) AS k
       LEFT JOIN (
         SELECT tenant_id, bucket, max(version) AS v
         FROM ${table}
         WHERE (tenant_id, bucket) IN (SELECT tenant_id, bucket FROM ${marks} WHERE last_insert_at > fromUnixTimestamp64Milli({since:Int64}, 'UTC'))
         GROUP BY tenant_id, bucket
       ) AS r ON k.tenant_id = r.tenant_id AND k.bucket = r.bucket
       WHERE r.v < k.last`,
      { since: sinceMs },
    );
    return rows.map((r) => ({ tenantId: r.tenant_id, sec: Number(r.t), lastMs: Number(r.last) }));
  }

  async #build(build: Build, quietMs: number, nowMs: number): Promise<void> {
    const { source, level } = build;
    const columns = allColumns(source);
    const table = level === "minute" ? source.minuteTable : source.hourTable;
    const time = source.timeColumn;
    const [{ version }] = (await this.#gateway.query<{ version: number | string }>(
      "SELECT toUnixTimestamp64Milli(now64(3, 'UTC')) - {quietMs:UInt32} AS version",
      { quietMs },
    )) as [{ version: number | string }];
    const params = { tenant: build.tenantId, from: build.fromS, to: build.toS, fromMs: build.fromS * 1000, toMs: build.toS * 1000, version: Number(version), buckets: build.buckets.map((b) => b.sec) };
    // The raw time column is a DateTime64: its bounds must be DateTime64 too. (ClickHouse 26.7 prunes
    // parts wrongly when a DateTime64 column is compared with a DateTime: a row at 10:00:59.999 is
    // missed by `< toDateTime('10:01:00')`.)
    const flat = rawFlatRowsSql(
      source,
      columns,
      bucketSqlOf(source, level),
      `tenant_id = {tenant:String} AND ${time} >= fromUnixTimestamp64Milli({fromMs:Int64}, 'UTC') AND ${time} < fromUnixTimestamp64Milli({toMs:Int64}, 'UTC')`,
      true,
      rawTableFor(source, build.fromS * 1000, nowMs),
    );
    await this.#gateway.command(
      `INSERT INTO ${table} (tenant_id, bucket, version, retention_days, ${columns.join(", ")})
       SELECT tenant_id, bucket, fromUnixTimestamp64Milli({version:Int64}, 'UTC'), max(retention_days), ${columns.map((c) => `groupArray(${c})`).join(", ")}
       FROM (${flat})
       GROUP BY tenant_id, bucket
       ${source.finalSettingsSql}`,
      params,
    );
    // A stale bucket with no rows left (its rows expired, or a replayed batch marked it) gets an
    // empty row, so that it reads as current instead of staying stale.
    await this.#gateway.command(
      `INSERT INTO ${table} (tenant_id, bucket, version, retention_days)
       SELECT {tenant:String}, toDateTime(b, 'UTC'), fromUnixTimestamp64Milli({version:Int64}, 'UTC'), 1
       FROM (SELECT arrayJoin({buckets:Array(UInt32)}) AS b)
       WHERE b NOT IN (
         SELECT toUInt32(bucket) FROM ${table}
         WHERE tenant_id = {tenant:String} AND bucket >= toDateTime({from:UInt32}, 'UTC') AND bucket < toDateTime({to:UInt32}, 'UTC')
           AND version = fromUnixTimestamp64Milli({version:Int64}, 'UTC')
       )`,
      params,
    );
  }
}

/** Candidates grouped into builds: per tenant, runs of nearby buckets, newest runs first. */
function runs(source: RollupSource, level: "minute" | "hour", candidates: readonly Candidate[]): Build[] {
  const { sizeS, maxLengthS, maxGapS } = RUN[level];
  const byTenant = new Map<string, Candidate[]>();
  for (const c of candidates) {
    const list = byTenant.get(c.tenantId);
    if (list) list.push(c);
    else byTenant.set(c.tenantId, [c]);
  }
  const out: Build[] = [];
  for (const [tenantId, list] of byTenant) {
    list.sort((a, b) => a.sec - b.sec);
    let run: Build | undefined;
    for (const c of list) {
      if (run && c.sec - run.toS <= maxGapS && c.sec + sizeS - run.fromS <= maxLengthS) {
        run.toS = c.sec + sizeS;
        run.buckets.push(c);
      } else {
        run = { source, level, tenantId, fromS: c.sec, toS: c.sec + sizeS, buckets: [c] };
        out.push(run);
      }
    }
  }
  return out.sort((a, b) => b.toS - a.toS);
}

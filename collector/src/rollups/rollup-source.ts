/**
 * A raw table summarised by rollups (migration 0008), and how: which columns a bucket is broken
 * down by and what is measured. Every piece is fixed SQL text over the raw table's columns; the
 * sealer builds rollup rows with it and reads use it for the buckets not sealed yet, so a figure
 * cannot differ between the two.
 */
export interface RollupSource {
  /** For messages and parameter names. */
  readonly name: "spans" | "usage";
  /** The raw table (a ReplacingMergeTree read with FINAL). */
  readonly rawTable: string;
  /** Its DateTime64 column that places a row in a bucket. */
  readonly timeColumn: string;
  /** Settings every FINAL read of the raw table carries (fixed text, starting with SETTINGS). */
  readonly finalSettingsSql: string;
  /** When rows last arrived, per (tenant, minute) and per (tenant, hour) (filled by materialized views). */
  readonly minuteMarksTable: string;
  readonly hourMarksTable: string;
  /** One row per (tenant, minute) / (tenant, hour). */
  readonly minuteTable: string;
  readonly hourTable: string;
  /**
   * A copy of the raw table's recent rows sorted by minute (same columns as the dimensions and
   * measures read), read instead of it for ranges that start within `windowMs` of now.
   */
  readonly recent?: { readonly table: string; readonly windowMs: number };
  /** Breakdown columns: name in the rollup, expression over a raw row. */
  readonly dimensions: readonly RollupColumn[];
  /** Measures: name in the rollup, aggregate over the raw rows of one bucket and breakdown. */
  readonly measures: readonly RollupColumn[];
}

/** A rollup column and the SQL that computes it from raw rows. */
export interface RollupColumn {
  readonly name: string;
  readonly rawSql: string;
}

/** Levels of the quantile states every rollup keeps (any level can be read back from them). */
export const ROLLUP_QUANTILE_LEVELS = "0.5, 0.95, 0.99";

/**
 * SQL: `valueSql` rounded to three significant digits (0 for a value that is not positive and
 * finite). Quantiles are exact over these rounded values: within 0.5%, the precision the console
 * shows, while a state holds at most ~900 distinct values per decade whatever the volume.
 */
export function roundedForQuantiles(valueSql: string): string {
  const scale = `exp10(floor(log10(${valueSql})) - 2)`;
  return `if(isFinite(${valueSql}) AND ${valueSql} > 0, round(${valueSql} / ${scale}) * ${scale}, 0)`;
}

/** SQL: the state of exact quantiles (nearest rank) of `valueSql`, rounded as above, over the rows where `conditionSql` holds. */
export function quantileStateSql(valueSql: string, conditionSql: string): string {
  return `quantilesExactWeightedStateIf(${ROLLUP_QUANTILE_LEVELS})(${roundedForQuantiles(valueSql)}, toUInt64(1), ${conditionSql})`;
}

/** The table to read raw rows from for a range starting at `fromMs`: the recent copy when it holds them. */
export function rawTableFor(source: RollupSource, fromMs: number, nowMs = Date.now()): string {
  return source.recent && fromMs >= nowMs - source.recent.windowMs ? source.recent.table : source.rawTable;
}

/** SQL: the minute of a raw row (a DateTime, whatever the engine version returns for DateTime64). */
export function minuteOf(source: RollupSource): string {
  return `toDateTime(toStartOfMinute(${source.timeColumn}), 'UTC')`;
}

/** SQL: the hour of a raw row. */
export function hourOf(source: RollupSource): string {
  return `toDateTime(toStartOfHour(${source.timeColumn}), 'UTC')`;
}

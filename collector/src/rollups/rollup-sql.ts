import type { RollupSource } from "./rollup-source.js";

/**
 * SQL text shared by the sealer (which builds rollup rows) and the reads (which use raw rows for
 * the buckets not sealed yet): the raw table's rows grouped into flat rollup rows. Fixed text over
 * fixed column names; every value is a bound parameter chosen by the caller.
 */

/** Names of the columns of a flat rollup row: tenant_id, bucket, then the chosen columns. */
export function flatColumns(source: RollupSource, columns: readonly string[]): string[] {
  for (const c of columns) {
    if (!source.dimensions.some((d) => d.name === c) && !source.measures.some((m) => m.name === c)) {
      throw new Error(`${source.name} rollups have no column ${c}`);
    }
  }
  return ["tenant_id", "bucket", ...columns];
}

/**
 * SQL: the raw rows matching `whereSql`, grouped by tenant, `bucketSql` and the chosen dimensions,
 * as flat rows with the chosen columns (measures aggregated). With `retention`, a
 * `retention_days` column too (the largest of the bucket's rows). Reads with FINAL: a row re-sent
 * in any batch counts once. `table`: the raw table or its recent copy (rawTableFor). The caller
 * appends `source.finalSettingsSql` to its statement.
 */
export function rawFlatRowsSql(source: RollupSource, columns: readonly string[], bucketSql: string, whereSql: string, retention = false, table = source.rawTable): string {
  flatColumns(source, columns);
  const dims = source.dimensions.filter((d) => columns.includes(d.name));
  const measures = source.measures.filter((m) => columns.includes(m.name));
  // Inner aliases are prefixed: an alias named like a raw column would shadow it in the other expressions.
  const inner = [
    "tenant_id",
    `${bucketSql} AS bucket`,
    ...dims.map((d) => `${d.rawSql} AS d_${d.name}`),
    ...measures.map((m) => `${m.rawSql} AS m_${m.name}`),
    ...(retention ? ["max(retention_days) AS x_retention_days"] : []),
  ];
  const outer = [
    "tenant_id",
    "bucket",
    ...columns.map((c) => (dims.some((d) => d.name === c) ? `d_${c} AS ${c}` : `m_${c} AS ${c}`)),
    ...(retention ? ["x_retention_days AS retention_days"] : []),
  ];
  return `SELECT ${outer.join(", ")} FROM (
      SELECT ${inner.join(", ")}
      FROM ${table} FINAL
      WHERE ${whereSql}
      GROUP BY tenant_id, bucket${dims.map((d) => `, d_${d.name}`).join("")}
    )`;
}

/**
 * SQL: the flat rows of a rollup table (one row per bucket and breakdown), latest build of each
 * bucket (FINAL), restricted by `whereSql` (over tenant_id and bucket only).
 */
export function rollupFlatRowsSql(source: RollupSource, table: string, columns: readonly string[], whereSql: string): string {
  flatColumns(source, columns);
  return `SELECT tenant_id, bucket, ${columns.join(", ")}
    FROM ${table} FINAL
    ARRAY JOIN ${columns.join(", ")}
    WHERE ${whereSql}`;
}

/** Every column of a source, in table order. */
export function allColumns(source: RollupSource): string[] {
  return [...source.dimensions.map((d) => d.name), ...source.measures.map((m) => m.name)];
}

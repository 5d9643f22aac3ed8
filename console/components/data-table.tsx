"use client";
// A sortable data table (TanStack Table) driven by serialisable column specs, so that server
// components can describe a table without passing functions to the client.
import {
  createColumnHelper,
  createSortedRowModel,
  rowSortingFeature,
  sortFn_alphanumeric,
  sortFn_basic,
  tableFeatures,
  useTable,
  type SortingState,
} from "@tanstack/react-table";
import Link from "next/link";
import { useMemo, useState, type ReactNode } from "react";
import { formatCompact, formatCount, formatDateTime, formatInt, formatMs, formatPct, formatUsd } from "../lib/format/format";

/** How a column's values are shown. */
export type ColumnFormat = "text" | "mono" | "int" | "compact" | "ms" | "usd" | "pct" | "datetime" | "status" | "budget" | "tags";

/**
 * One column: `key` names the row field; `href` is a template such as "/traces/{traceId}"; `sub`
 * names a row field shown in small text under the value (e.g. a tenant's display name under its id),
 * which keeps a wide table from needing a column of its own for it.
 */
export interface ColumnSpec {
  key: string;
  header: string;
  format?: ColumnFormat;
  href?: string;
  sub?: string;
}

/** A table row: plain values only. */
export type Row = Record<string, string | number | boolean | null | string[]>;

const features = tableFeatures({
  rowSortingFeature,
  sortedRowModel: createSortedRowModel(),
  sortFns: { alphanumeric: sortFn_alphanumeric, basic: sortFn_basic },
});
const helper = createColumnHelper<typeof features, Row>();

/** From this many columns a table sets its cells closer, to fit its card from 1280 px up. */
const DENSE_FROM_COLUMNS = 12;

const NUMERIC: ReadonlySet<ColumnFormat> = new Set(["int", "compact", "ms", "usd", "pct"]);

function render(value: Row[string], format: ColumnFormat): ReactNode {
  if (value === null || value === undefined) return "–";
  switch (format) {
    case "int": return formatInt(Number(value));
    case "compact": return formatCompact(Number(value));
    case "ms": return formatMs(Number(value));
    case "usd": return formatUsd(Number(value));
    case "pct": return formatPct(Number(value));
    case "datetime": {
      // Breakable only between the day and the time, so that a narrow column wraps to two lines.
      const text = formatDateTime(String(value)).replace(" UTC", "\u00a0UTC");
      return <time className="dt" dateTime={String(value)}>{text}</time>;
    }
    case "mono": return <span className="mono">{String(value)}</span>;
    case "status":
      return Number(value) > 0 ? <span className="badge badge-err">{formatCount(Number(value), "error")}</span> : <span className="badge badge-ok">OK</span>;
    case "budget": {
      const v = String(value);
      return <span className={`badge ${v === "over" ? "badge-err" : v === "near" ? "badge-warn" : "badge-ok"}`}>{v === "over" ? "Over budget" : v === "near" ? "Near budget" : "Within budget"}</span>;
    }
    case "tags":
      return Array.isArray(value) && value.length ? (
        <span style={{ display: "inline-flex", gap: 4, flexWrap: "wrap" }}>{value.map((t) => <span key={t} className="badge badge-neutral">{t}</span>)}</span>
      ) : "–";
    default: return String(value);
  }
}

function fill(template: string, row: Row): string {
  return template.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(String(row[k] ?? "")));
}

/**
 * A sortable table; click a header (or focus it and press Enter) to sort. It fits its card when it
 * can (headers and date-times wrap when the columns need the room; twelve columns and more are set
 * closer) and otherwise scrolls inside the card, with a shadow at the edge that hides columns.
 */
export function DataTable({ columns, rows, caption, testId }: { columns: ColumnSpec[]; rows: Row[]; caption: string; testId?: string }) {
  const [sorting, setSorting] = useState<SortingState>([]);
  const defs = useMemo(
    () =>
      helper.columns(
        columns.map((c) =>
          helper.accessor((row: Row) => row[c.key] as string | number, {
            id: c.key,
            header: c.header,
            sortFn: NUMERIC.has(c.format ?? "text") ? "basic" : "alphanumeric",
            cell: (info) => {
              const content = render(info.getValue() as Row[string], c.format ?? "text");
              const value = c.href ? <Link href={fill(c.href, info.row.original)}>{content}</Link> : content;
              const sub = c.sub === undefined ? undefined : info.row.original[c.sub];
              return sub === undefined || sub === null || sub === "" ? value : (
                <>
                  {value}
                  <span className="cell-sub">{String(sub)}</span>
                </>
              );
            },
          }),
        ),
      ),
    [columns],
  );
  const table = useTable({ features, columns: defs, data: rows, state: { sorting }, onSortingChange: setSorting });
  const formatOf = new Map(columns.map((c) => [c.key, c.format ?? "text"]));

  return (
    <div className="table-wrap">
      <table className={columns.length >= DENSE_FROM_COLUMNS ? "data dense" : "data"} data-testid={testId}>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          {table.getHeaderGroups().map((group) => (
            <tr key={group.id}>
              {group.headers.map((header) => {
                const dir = header.column.getIsSorted();
                const numeric = NUMERIC.has(formatOf.get(header.column.id) ?? "text");
                return (
                  <th key={header.id} className={numeric ? "num" : undefined} aria-sort={dir === "asc" ? "ascending" : dir === "desc" ? "descending" : "none"}>
                    <button type="button" className="sort-btn" onClick={header.column.getToggleSortingHandler()}>
                      <table.FlexRender header={header} />
                      <span aria-hidden="true">{dir === "asc" ? "▲" : dir === "desc" ? "▼" : ""}</span>
                    </button>
                  </th>
                );
              })}
            </tr>
          ))}
        </thead>
        <tbody>
          {table.getRowModel().rows.map((row) => (
            <tr key={row.id}>
              {row.getAllCells().map((cell) => (
                <td key={cell.id} className={NUMERIC.has(formatOf.get(cell.column.id) ?? "text") ? "num" : undefined}>
                  <table.FlexRender cell={cell} />
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

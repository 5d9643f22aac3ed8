"use client";
// The list of traces (trace search, a conversation's traces): one row per trace, keyboard-navigable.
import Link from "next/link";
import { useRef } from "react";
import type { TraceSummary } from "../lib/api/types";
import { formatCompact, formatDateTime, formatInt, formatMs, formatUsd } from "../lib/format/format";
import { useListKeyboard } from "./list-keyboard";

/** What the tokens and cost columns are (header tooltips and the note under the list). */
export const TRACE_USAGE_NOTE = "Tokens and cost are summed over each trace's LLM spans, so they cover the stored (sampled) traces only; Usage & billing has the exact totals.";

const IN_PROGRESS_TITLE = "The root span has not arrived yet: the trace is still running (or its root was lost). Named after its earliest span.";

/**
 * Traces as a table: root span (linked to the trace; "in progress" when the root has not arrived)
 * with the trace id under it, agents, start, duration, spans, tokens, cost and status. j/k (or
 * ↓/↑ inside the table) move between traces, Enter opens one. `tenant` is the admin's tenant
 * parameter, kept on the links.
 */
export function TraceTable({ traces, tenant, caption, testId }: { traces: readonly TraceSummary[]; tenant: string | undefined; caption: string; testId?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useListKeyboard(ref, "a.trace-link");
  const suffix = tenant !== undefined ? `?tenant=${encodeURIComponent(tenant)}` : "";
  return (
    <div className="table-wrap" ref={ref}>
      <table className="data trace-table" data-testid={testId}>
        <caption className="visually-hidden">{caption}. Press j or k to move between traces and Enter to open one.</caption>
        <thead>
          <tr>
            <th scope="col">Root span</th>
            <th scope="col">Agents</th>
            <th scope="col">Started</th>
            <th scope="col" className="num">Duration</th>
            <th scope="col" className="num">Spans</th>
            <th scope="col" className="num" title={TRACE_USAGE_NOTE}>Tokens <span aria-hidden="true" className="th-note">i</span></th>
            <th scope="col" className="num" title={TRACE_USAGE_NOTE}>Cost <span aria-hidden="true" className="th-note">i</span></th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {traces.map((t) => (
            <tr key={t.traceId} data-trace-id={t.traceId} data-in-progress={t.inProgress ? "true" : undefined}>
              <td className="trace-root">
                <Link className="trace-link" href={`/traces/${t.traceId}${suffix}`} title={t.inProgress ? `${t.rootName} — ${IN_PROGRESS_TITLE}` : t.rootName}>
                  {t.rootName}
                </Link>
                <span className="cell-sub mono">{t.traceId}</span>
              </td>
              <td>
                {t.agentTypes.length ? <span className="tag-list">{t.agentTypes.map((a) => <span key={a} className="badge badge-neutral">{a}</span>)}</span> : "–"}
              </td>
              <td>{formatDateTime(t.startTime)}</td>
              <td className="num">{t.inProgress ? <span title="So far: the trace is still running">≥ {formatMs(t.durationMs)}</span> : formatMs(t.durationMs)}</td>
              <td className="num">{formatInt(t.spanCount)}</td>
              <td className="num" title={`${formatInt(t.inputTokens)} in / ${formatInt(t.outputTokens)} out`}>{t.inputTokens + t.outputTokens > 0 ? formatCompact(t.inputTokens + t.outputTokens) : "–"}</td>
              <td className="num">{t.costUsd > 0 ? formatUsd(t.costUsd) : "–"}</td>
              <td>
                <span className="tag-list">
                  {t.inProgress ? <span className="badge badge-accent" title={IN_PROGRESS_TITLE}>In progress</span> : null}
                  {t.errorCount > 0 ? <span className="badge badge-err">{formatInt(t.errorCount)} {t.errorCount === 1 ? "error" : "errors"}</span> : t.inProgress ? null : <span className="badge badge-ok">OK</span>}
                </span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

"use client";
// A trace's span tree on its timeline: select a span to see its panel, collapse subtrees, zoom, keyboard.
import { useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent, type PointerEvent } from "react";
import type { TraceSpan } from "../lib/api/types";
import { formatMs } from "../lib/format/format";
import { attributeIsTrue, spanAnchor } from "../lib/format/span-fields";
import { clampWindow, fullWindow, isFullWindow, placeInWindow, timeAt, zoomWindow, type TimelineWindow } from "../lib/format/timeline-window";
import { descendantCount, hasChildren, layoutWaterfall, parentIndex, visibleRows, type WaterfallRow } from "../lib/format/waterfall";
import { isTypingTarget, useListKeyboard } from "./list-keyboard";
import { SpanPanel } from "./span-panel";
import { Badge } from "./ui";

const INDENT_PX = 14;
/** Deeper spans are indented no further: their depth is in the tooltip. */
const MAX_INDENT_DEPTH = 10;

/**
 * The waterfall. Guarantees: the selected span (`?span=` in the URL, kept up to date with
 * replaceState, no reload) has its row open with its panel; a collapsed span hides its subtree and
 * says how many spans it hides; the timeline shows a zoom window (buttons, drag on the time axis,
 * +/−/0 keys) that every bar and the axis follow. Keys: j/k or ↓/↑ move between rows, → expands
 * (or goes to the first child), ← collapses (or goes to the parent), Enter/Space open or close the
 * span's panel, Esc closes it. Every row's full name, model, agent and duration are in its tooltip.
 * `inProgress` draws a placeholder for the root that has not arrived, above the spans.
 */
export function Waterfall({ spans, durationMs, tenant, initialSpan, inProgress }: {
  spans: readonly TraceSpan[];
  durationMs: number;
  tenant: string | undefined;
  initialSpan: string | undefined;
  inProgress: boolean;
}) {
  const rows = useMemo(() => layoutWaterfall(spans, durationMs), [spans, durationMs]);
  const totalMs = Math.max(durationMs, ...spans.map((s) => s.durationMs), 0);
  const [selected, setSelected] = useState<string | undefined>(initialSpan && spans.some((s) => s.spanId === initialSpan) ? initialSpan : undefined);
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(() => new Set());
  const [view, setView] = useState<TimelineWindow>(() => fullWindow(totalMs));
  const container = useRef<HTMLDivElement>(null);
  useListKeyboard(container, "summary.wf-summary");
  const shown = useMemo(() => visibleRows(rows, collapsed), [rows, collapsed]);
  const indexOf = useMemo(() => new Map(rows.map((r, i) => [r.span.spanId, i])), [rows]);

  const select = useCallback((spanId: string | undefined) => {
    setSelected(spanId);
    const url = new URL(window.location.href);
    if (spanId === undefined) url.searchParams.delete("span");
    else url.searchParams.set("span", spanId);
    url.hash = "";
    window.history.replaceState(window.history.state, "", url.toString());
  }, []);

  // A span opened by a link: bring its row into view once.
  useEffect(() => {
    if (initialSpan) document.getElementById(spanAnchor(initialSpan))?.scrollIntoView({ block: "center" });
  }, [initialSpan]);

  const setCollapsedOf = (spanId: string, value: boolean) =>
    setCollapsed((prev) => {
      if (prev.has(spanId) === value) return prev;
      const next = new Set(prev);
      if (value) next.add(spanId);
      else next.delete(spanId);
      return next;
    });

  const focusRow = (spanId: string) => document.getElementById(spanAnchor(spanId))?.querySelector<HTMLElement>("summary")?.focus();

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.altKey || e.ctrlKey || e.metaKey || isTypingTarget(e.target)) return;
    const summary = e.target instanceof HTMLElement ? e.target.closest<HTMLElement>("summary.wf-summary") : null;
    const spanId = summary?.dataset.spanId;
    const i = spanId === undefined ? -1 : indexOf.get(spanId) ?? -1;
    if (e.key === "Escape" && selected !== undefined) {
      e.preventDefault();
      const was = selected;
      select(undefined);
      focusRow(was);
    } else if (i >= 0 && e.key === "ArrowRight") {
      e.preventDefault();
      if (!hasChildren(rows, i)) return;
      if (collapsed.has(spanId!)) setCollapsedOf(spanId!, false);
      else focusRow(rows[i + 1]!.span.spanId);
    } else if (i >= 0 && e.key === "ArrowLeft") {
      e.preventDefault();
      if (hasChildren(rows, i) && !collapsed.has(spanId!)) setCollapsedOf(spanId!, true);
      else {
        const parent = parentIndex(rows, i);
        if (parent >= 0) focusRow(rows[parent]!.span.spanId);
      }
    }
  };

  // +, − and 0 zoom anywhere on the page (outside text fields).
  useEffect(() => {
    const onKey = (e: globalThis.KeyboardEvent) => {
      if (e.altKey || e.ctrlKey || e.metaKey || isTypingTarget(e.target)) return;
      if (e.key === "+" || e.key === "=") setView((w) => zoomWindow(w, 2, totalMs));
      else if (e.key === "-") setView((w) => zoomWindow(w, 0.5, totalMs));
      else if (e.key === "0") setView(fullWindow(totalMs));
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [totalMs]);

  const selectedRow = selected === undefined ? undefined : rows[indexOf.get(selected) ?? -1];
  const zoomed = !isFullWindow(view, totalMs);
  const shift = inProgress ? 1 : 0;

  return (
    <div className="wf">
      <div className="wf-toolbar" role="toolbar" aria-label="Timeline zoom">
        <span className="wf-window" data-testid="timeline-window">
          {zoomed ? `Showing ${formatMs(view.startMs)} – ${formatMs(view.endMs)} of ${formatMs(totalMs)}` : `Whole trace · ${formatMs(totalMs)}`}
        </span>
        <button type="button" className="btn btn-sm" onClick={() => setView((w) => zoomWindow(w, 2, totalMs))} title="Zoom in (+)">Zoom in</button>
        <button type="button" className="btn btn-sm" onClick={() => setView((w) => zoomWindow(w, 0.5, totalMs))} disabled={!zoomed} title="Zoom out (−)">Zoom out</button>
        {selectedRow ? (
          <button type="button" className="btn btn-sm" onClick={() => setView(clampWindow(selectedRow.offsetMs, selectedRow.offsetMs + selectedRow.span.durationMs, totalMs))}>Zoom to span</button>
        ) : null}
        <button type="button" className="btn btn-sm" onClick={() => setView(fullWindow(totalMs))} disabled={!zoomed} title="Reset zoom (0)">Reset zoom</button>
        {collapsed.size > 0 ? <button type="button" className="btn btn-sm" onClick={() => setCollapsed(new Set())}>Expand all</button> : null}
      </div>
      <Ruler view={view} onZoom={(w) => setView(clampWindow(w.startMs, w.endMs, totalMs))} />
      <div data-testid="waterfall" ref={container} onKeyDown={onKeyDown}>
        {inProgress ? (
          <div className="wf-row wf-missing" data-testid="missing-root">
            <div className="wf-grid">
              <span className="wf-name">
                <span className="wf-name-text">Root span not received yet</span>
                <Badge tone="accent" title="Spans are sent when they end, the root last: this trace is still running (or its root was lost).">In progress</Badge>
              </span>
              <span className="wf-track" aria-hidden="true"><span className="wf-bar wf-bar-open" /></span>
              <span className="wf-dur">running</span>
            </div>
          </div>
        ) : null}
        {shown.map((row) => (
          <Row
            key={row.span.spanId}
            row={row}
            view={view}
            depth={row.span.depth + shift}
            open={row.span.spanId === selected}
            collapsible={hasChildren(rows, indexOf.get(row.span.spanId)!)}
            hidden={collapsed.has(row.span.spanId) ? descendantCount(rows, indexOf.get(row.span.spanId)!) : 0}
            onToggleOpen={() => select(row.span.spanId === selected ? undefined : row.span.spanId)}
            onToggleCollapsed={() => setCollapsedOf(row.span.spanId, !collapsed.has(row.span.spanId))}
            tenant={tenant}
          />
        ))}
      </div>
      <p className="table-note" aria-hidden="true">
        <span><kbd>j</kbd> <kbd>k</kbd> move · <kbd>→</kbd> <kbd>←</kbd> expand / collapse · <kbd>Enter</kbd> open · <kbd>Esc</kbd> close · <kbd>+</kbd> <kbd>−</kbd> <kbd>0</kbd> zoom · drag on the time axis to zoom to a window</span>
      </p>
    </div>
  );
}

function Row({ row, view, depth, open, collapsible, hidden, onToggleOpen, onToggleCollapsed, tenant }: {
  row: WaterfallRow;
  view: TimelineWindow;
  depth: number;
  open: boolean;
  collapsible: boolean;
  hidden: number;
  onToggleOpen: () => void;
  onToggleCollapsed: () => void;
  tenant: string | undefined;
}) {
  const { span } = row;
  const bar = placeInWindow(row.offsetMs, span.durationMs, view);
  const simulated = attributeIsTrue(span.attributes["troupe.llm.simulated"]);
  const tooltip = [
    span.name,
    span.model ? `model ${span.model}` : "",
    span.agentType ? `agent ${span.agentType}` : "",
    `${formatMs(span.durationMs)}, starts at +${formatMs(row.offsetMs)}`,
    span.statusCode === 2 ? "error" : "",
    `depth ${span.depth}`,
  ].filter(Boolean).join(" · ");
  return (
    <details id={spanAnchor(span.spanId)} className="wf-row" data-span-name={span.name} open={open}>
      <summary
        className="wf-summary wf-grid"
        data-span-id={span.spanId}
        title={tooltip}
        onClick={(e) => {
          e.preventDefault();
          onToggleOpen();
        }}
      >
        <span className="wf-name" style={{ paddingLeft: Math.min(depth, MAX_INDENT_DEPTH) * INDENT_PX }}>
          {collapsible ? (
            <button
              type="button"
              className="wf-toggle"
              tabIndex={-1}
              aria-expanded={hidden === 0}
              aria-label={hidden === 0 ? `Collapse ${span.name}` : `Expand ${span.name}`}
              onClick={(e) => {
                e.preventDefault();
                e.stopPropagation();
                onToggleCollapsed();
              }}
            >
              {hidden === 0 ? "▾" : "▸"}
            </button>
          ) : <span className="wf-toggle-space" aria-hidden="true" />}
          {span.statusCode === 2 ? <span className="wf-error-dot" aria-label="error">●</span> : null}
          <span className="wf-name-text">{span.name}</span>
          {hidden > 0 ? <span className="wf-hidden-count" data-testid="hidden-count">+{hidden}</span> : null}
          {span.agentType ? <span className="badge badge-neutral wf-badge">{span.agentType}</span> : null}
          {simulated ? <span className="badge badge-sim wf-badge" title="Answered by a simulated model">simulated model</span> : null}
        </span>
        <span className="wf-track" aria-hidden="true">
          {bar ? <span className={`wf-bar ${barClass(span)}`} style={{ left: `${bar.leftPct}%`, width: `${bar.widthPct}%` }} /> : null}
        </span>
        <span className="wf-dur">{formatMs(span.durationMs)}</span>
      </summary>
      {open ? (
        <div className="wf-detail">
          <SpanPanel span={span} tenant={tenant} />
        </div>
      ) : null}
    </details>
  );
}

/** The time axis of the shown window; dragging across it zooms to the dragged stretch. */
function Ruler({ view, onZoom }: { view: TimelineWindow; onZoom: (w: TimelineWindow) => void }) {
  const track = useRef<HTMLSpanElement>(null);
  const [drag, setDrag] = useState<{ from: number; to: number } | null>(null);
  const fraction = (e: PointerEvent) => {
    const box = track.current!.getBoundingClientRect();
    return Math.min(1, Math.max(0, (e.clientX - box.left) / Math.max(1, box.width)));
  };
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return (
    <div className="wf-head wf-grid">
      <span>Span</span>
      <span
        className="wf-ruler"
        ref={track}
        data-testid="timeline-ruler"
        title="Drag across the time axis to zoom to that stretch"
        onPointerDown={(e) => {
          e.currentTarget.setPointerCapture(e.pointerId);
          const f = fraction(e);
          setDrag({ from: f, to: f });
        }}
        onPointerMove={(e) => {
          if (drag) setDrag({ ...drag, to: fraction(e) });
        }}
        onPointerUp={(e) => {
          if (!drag) return;
          const to = fraction(e);
          setDrag(null);
          // A click (no real drag) is not a zoom.
          if (Math.abs(to - drag.from) * (track.current?.getBoundingClientRect().width ?? 0) >= 4) onZoom({ startMs: timeAt(view, drag.from), endMs: timeAt(view, to) });
        }}
        onPointerCancel={() => setDrag(null)}
      >
        {ticks.map((f) => (
          <span key={f} className={`wf-tick${f === 0 ? " wf-tick-start" : f === 1 ? " wf-tick-end" : f === 0.5 ? "" : " wf-tick-quarter"}`} style={{ left: `${f * 100}%` }}>{formatMs(timeAt(view, f))}</span>
        ))}
        {drag ? <span className="wf-drag" style={{ left: `${Math.min(drag.from, drag.to) * 100}%`, width: `${Math.abs(drag.to - drag.from) * 100}%` }} /> : null}
      </span>
      <span className="wf-dur">Duration</span>
    </div>
  );
}

function barClass(span: TraceSpan): string {
  if (span.statusCode === 2) return "err";
  if (span.model || span.operation === "chat") return "llm";
  if (span.operation === "execute_tool") return "tool";
  return "";
}

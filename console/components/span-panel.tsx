// The metadata of one span of a trace, as it was sent: summary, typed attributes, resource, events and links (server-safe).
import Link from "next/link";
import type { TraceSpan, TraceSpanEvent, TraceSpanLink } from "../lib/api/types";
import { formatDateTime, formatInt, formatMs, formatUsd } from "../lib/format/format";
import { eventOffsetMs, flagsText, scopeText, spanHref } from "../lib/format/span-fields";
import { AttributeList } from "./attribute-list";

const KIND = ["unspecified", "internal", "server", "client", "producer", "consumer"];

/**
 * One span's panel. Links to traces of the same tenant open that trace with the linked span
 * selected; a link to a trace this tenant does not have (another tenant's, or one never stored) is
 * plain text. `tenant` is the admin's tenant parameter, undefined for a tenant session.
 */
export function SpanPanel({ span, tenant }: { span: TraceSpan; tenant: string | undefined }) {
  const summary: Array<[string, string]> = [
    ["span id", span.spanId],
    ["parent span id", span.parentSpanId || "(root)"],
    ["kind", KIND[span.kind] ?? String(span.kind)],
    ["status", span.statusCode === 2 ? "error" : span.statusCode === 1 ? "ok" : "unset"],
    ["service", span.serviceName],
    ["start", formatDateTime(span.startTime)],
    ["duration", formatMs(span.durationMs)],
  ];
  if (span.outcome) summary.push(["turn outcome", span.outcome]);
  if (span.model) summary.push(["model", span.model], ["tokens (in / out)", `${formatInt(span.inputTokens)} / ${formatInt(span.outputTokens)}`], ["cost", formatUsd(span.costUsd)]);
  if (scopeText(span.scope)) summary.push(["scope", scopeText(span.scope)]);
  if (span.traceState) summary.push(["trace state", span.traceState]);
  if (span.flags) summary.push(["flags", flagsText(span.flags)]);
  return (
    <div className="span-panel" data-testid="span-panel">
      <div className="grid grid-2">
        <div>
          <h3 className="span-panel-title">Span</h3>
          <dl className="kv">{summary.map(([k, v]) => <Pair key={k} k={k} v={v} />)}</dl>
        </div>
        <div>
          <h3 className="span-panel-title">Attributes</h3>
          <AttributeList attributes={span.attributes} truncated={span.truncatedAttributes} empty="No attributes." />
          {Object.keys(span.resourceAttributes).length ? (
            <>
              <h3 className="span-panel-title">Resource</h3>
              <AttributeList attributes={span.resourceAttributes} truncated={span.truncatedResourceAttributes} empty="" />
            </>
          ) : null}
        </div>
      </div>
      {span.events.length ? (
        <section data-testid="span-events">
          <h3 className="span-panel-title">Events ({formatInt(span.events.length)})</h3>
          <ol className="span-items">{span.events.map((e, i) => <EventItem key={i} span={span} event={e} />)}</ol>
        </section>
      ) : null}
      {span.links.length ? (
        <section data-testid="span-links">
          <h3 className="span-panel-title">Links ({formatInt(span.links.length)})</h3>
          <ol className="span-items">{span.links.map((l, i) => <LinkItem key={i} link={l} tenant={tenant} />)}</ol>
        </section>
      ) : null}
    </div>
  );
}

function EventItem({ span, event }: { span: TraceSpan; event: TraceSpanEvent }) {
  const offset = eventOffsetMs(span, event);
  return (
    <li className="span-item" data-testid="span-event">
      <div className="span-item-head">
        <span className="mono span-item-time" title={formatDateTime(event.time)}>{offset < 0 ? `−${formatMs(-offset)}` : `+${formatMs(offset)}`}</span>
        <strong>{event.name}</strong>
      </div>
      {Object.keys(event.attributes).length ? <AttributeList attributes={event.attributes} truncated={event.truncatedAttributes} empty="" /> : null}
    </li>
  );
}

function LinkItem({ link, tenant }: { link: TraceSpanLink; tenant: string | undefined }) {
  const target = <>trace <span className="mono">{link.traceId}</span> · span <span className="mono">{link.spanId}</span></>;
  return (
    <li className="span-item" data-testid="span-link">
      <div className="span-item-head">
        {link.sameTenant ? (
          <Link href={spanHref(link.traceId, link.spanId, tenant)} data-testid="span-link-target">{target}</Link>
        ) : (
          <>
            <span data-testid="span-link-target">{target}</span>
            <span className="field-hint">not a trace stored for this tenant</span>
          </>
        )}
      </div>
      {link.traceState || link.flags ? (
        <dl className="kv">
          {link.traceState ? <Pair k="trace state" v={link.traceState} /> : null}
          {link.flags ? <Pair k="flags" v={flagsText(link.flags)} /> : null}
        </dl>
      ) : null}
      {Object.keys(link.attributes).length ? <AttributeList attributes={link.attributes} truncated={link.truncatedAttributes} empty="" /> : null}
    </li>
  );
}

function Pair({ k, v }: { k: string; v: string }) {
  return (
    <>
      <dt>{k}</dt>
      <dd>{v}</dd>
    </>
  );
}

// A span's (or event's, or link's) attributes, each value shown as it was sent (server-safe).
import { Fragment } from "react";
import type { AttributeValue } from "../lib/api/types";
import { Badge } from "./ui";

/**
 * Attributes sorted by key, each value as the API typed it: strings as text, numbers and booleans
 * as themselves (styled apart from text, with `data-type`), arrays as lists. Keys in `truncated`
 * carry a "truncated" marker: the collector cut the value to its length cap.
 */
export function AttributeList({ attributes, truncated, empty }: { attributes: Record<string, AttributeValue>; truncated?: readonly string[]; empty: string }) {
  const entries = Object.entries(attributes).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return <p className="field-hint">{empty}</p>;
  const cut = new Set(truncated);
  return (
    <dl className="kv">
      {entries.map(([key, value]) => (
        <Fragment key={key}>
          <dt>{key}</dt>
          <dd data-attribute={key}>
            <Value value={value} />
            {cut.has(key) ? <> <Badge tone="warn" title="The collector cut this value to its length cap">truncated</Badge></> : null}
          </dd>
        </Fragment>
      ))}
    </dl>
  );
}

function Value({ value }: { value: AttributeValue }) {
  if (Array.isArray(value)) {
    if (value.length === 0) return <span className="av" data-type="array">[]</span>;
    return (
      <ol className="av-list" data-type="array">
        {value.map((v, i) => <li key={i}><Value value={v} /></li>)}
      </ol>
    );
  }
  if (typeof value === "number") return <span className="av av-number" data-type="number">{String(value)}</span>;
  if (typeof value === "boolean") return <span className="av av-bool" data-type="boolean">{String(value)}</span>;
  return <span className="av" data-type="string">{value}</span>;
}

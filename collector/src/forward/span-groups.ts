import { storedTypes } from "../store/span-block.js";
import { forwardedResource, type ForwardedResource } from "./forwarded-resource.js";
import type { SpanBlockView } from "./span-block-view.js";

/** The spans of one (tenant, resource) of a request, by scope in first-seen order. */
export interface ResourceGroup {
  view: SpanBlockView;
  /** A row whose tenant and resource these are. */
  row: number;
  scopes: Map<string, ScopeGroup>;
}

/** The spans of one instrumentation scope (as sent: "" when the span came without one). */
export interface ScopeGroup {
  name: string;
  version: string;
  /** The spans, as runs of rows of one block. */
  parts: { view: SpanBlockView; rows: number[] }[];
}

/**
 * Groups the rows of span blocks as OTLP nests them: by tenant and resource (one ResourceSpans),
 * then by scope (one ScopeSpans), each in first-seen order. Rows are compared with the row before
 * them as dictionary indexes and bytes; only a row that differs has its group looked up by value.
 */
export function groupSpans(views: readonly SpanBlockView[]): ResourceGroup[] {
  const groups = new Map<string, ResourceGroup>();
  for (const v of views) {
    const d = v.data;
    let scope: ScopeGroup | undefined;
    let rows: number[] = [];
    for (let row = 0; row < v.rowCount; row++) {
      if (scope === undefined || !sameResourceAndScope(v, row - 1, row)) {
        const resourceKey = [v.tenant.at(d, row), v.serviceName.at(d, row), JSON.stringify(v.map(v.resourceAttributes, row)), JSON.stringify(v.map(v.resourceAttributeTypes, row))].join("\u0000");
        let group = groups.get(resourceKey);
        if (group === undefined) groups.set(resourceKey, (group = { view: v, row, scopes: new Map() }));
        const name = v.scopeName?.at(d, row) ?? "";
        const version = v.scopeVersion?.at(d, row) ?? "";
        const scopeKey = `${name}\u0000${version}`;
        scope = group.scopes.get(scopeKey);
        if (scope === undefined) group.scopes.set(scopeKey, (scope = { name, version, parts: [] }));
        const last = scope.parts[scope.parts.length - 1];
        if (last?.view === v) rows = last.rows;
        else scope.parts.push({ view: v, rows: (rows = []) });
      }
      rows.push(row);
    }
  }
  return [...groups.values()];
}

/** The resource a group's spans are forwarded under (forwardedResource). */
export function groupResource(group: ResourceGroup): ForwardedResource {
  const { view: v, row } = group;
  return forwardedResource(v.tenant.at(v.data, row), v.serviceName.at(v.data, row), v.map(v.resourceAttributes, row), storedTypes(v.map(v.resourceAttributeTypes, row)));
}

/** Whether two rows of a block share tenant, service, resource and scope. */
function sameResourceAndScope(v: SpanBlockView, a: number, b: number): boolean {
  return (
    v.tenant.indexes[a] === v.tenant.indexes[b] &&
    v.serviceName.indexes[a] === v.serviceName.indexes[b] &&
    (v.scopeName === undefined || v.scopeName.indexes[a] === v.scopeName.indexes[b]) &&
    (v.scopeVersion === undefined || v.scopeVersion.indexes[a] === v.scopeVersion.indexes[b]) &&
    v.resourceAttributes.sameRows(a, b) &&
    (v.resourceAttributeTypes === undefined || v.resourceAttributeTypes.sameRows(a, b))
  );
}

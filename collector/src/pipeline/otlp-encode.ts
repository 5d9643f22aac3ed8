import { ATTR } from "@troupe/runtime";
import { otlpProtoTypes } from "../ingest/otlp-proto-root.js";
import type { SpanRow } from "../store/span-row.js";

/** The two OTLP/HTTP body encodings. */
export type OtlpWireFormat = "protobuf" | "json";

/**
 * Encodes stored (filtered) rows as an OTLP ExportTraceServiceRequest: one ResourceSpans per tenant
 * and resource, `troupe.tenant.id` on every resource, attribute values as strings.
 */
export function otlpTraceRequestFromRows(rows: readonly SpanRow[], format: OtlpWireFormat): Uint8Array | string {
  const groups = new Map<string, { tenantId: string; resource: Record<string, string>; rows: SpanRow[] }>();
  for (const row of rows) {
    const key = `${row.tenantId}\u0000${row.serviceName}\u0000${JSON.stringify(row.resourceAttributes)}`;
    let group = groups.get(key);
    if (!group) {
      group = { tenantId: row.tenantId, resource: { ...row.resourceAttributes, "service.name": row.serviceName, [ATTR.tenantId]: row.tenantId }, rows: [] };
      groups.set(key, group);
    }
    group.rows.push(row);
  }
  const hex = format === "json";
  const id = (h: string): string | Buffer => (hex ? h : Buffer.from(h, "hex"));
  const request = {
    resourceSpans: [...groups.values()].map((g) => ({
      resource: { attributes: keyValues(g.resource) },
      scopeSpans: [
        {
          scope: { name: "troupe-collector-forward" },
          spans: g.rows.map((r) => ({
            traceId: id(r.traceId),
            spanId: id(r.spanId),
            ...(r.parentSpanId ? { parentSpanId: id(r.parentSpanId) } : {}),
            name: r.name,
            kind: r.kind,
            startTimeUnixNano: r.startTimeUnixNano,
            endTimeUnixNano: (BigInt(r.startTimeUnixNano) + BigInt(Math.max(0, Math.round(r.durationNs)))).toString(),
            attributes: keyValues(r.attributes),
            status: { code: r.statusCode },
          })),
        },
      ],
    })),
  };
  if (format === "json") return JSON.stringify(request);
  const type = otlpProtoTypes().ExportTraceServiceRequest;
  return type.encode(type.fromObject(request)).finish();
}

function keyValues(attributes: Record<string, string>): { key: string; value: { stringValue: string } }[] {
  return Object.entries(attributes).map(([key, value]) => ({ key, value: { stringValue: value } }));
}

import type { Migration } from "./migration.js";

/**
 * What OpenTelemetry says of a span beyond its attributes' text, kept so the query API and the
 * forwarder give spans back as they were sent:
 * - attribute_types / resource_attribute_types: the OTLP type of each value that is not a plain
 *   string (attribute-types.ts); rows stored before have none, and read back as strings, as they were stored.
 * - scope_name / scope_version: the instrumentation scope.
 * - trace_state, flags: the span context's W3C tracestate and OTLP span flags.
 * - events, links: JSON arrays (span-events.ts) with only allow-listed attributes; "" for none.
 * Adding columns with defaults rewrites nothing: old parts read the defaults.
 */
export const migration0007: Migration = {
  version: 7,
  name: "faithful_spans",
  statements: [
    `ALTER TABLE spans
      ADD COLUMN IF NOT EXISTS attribute_types Map(LowCardinality(String), String),
      ADD COLUMN IF NOT EXISTS resource_attribute_types Map(LowCardinality(String), String),
      ADD COLUMN IF NOT EXISTS scope_name LowCardinality(String),
      ADD COLUMN IF NOT EXISTS scope_version LowCardinality(String),
      ADD COLUMN IF NOT EXISTS trace_state String,
      ADD COLUMN IF NOT EXISTS flags UInt32,
      ADD COLUMN IF NOT EXISTS events String,
      ADD COLUMN IF NOT EXISTS links String`,
  ],
};

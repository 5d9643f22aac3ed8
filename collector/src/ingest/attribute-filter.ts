import { MAX_ATTRIBUTE_VALUE_LENGTH } from "@troupe/runtime";
import type { OtlpAttributeValue, OtlpKeyValue } from "./otlp-traces.js";

/** What filtering one attribute list kept and removed. */
export interface FilterCounts {
  /** Attributes removed because their key is not allow-listed. */
  dropped: number;
  /** Kept values cut to MAX_ATTRIBUTE_VALUE_LENGTH. */
  truncated: number;
}

/**
 * Copies the allow-listed attributes of `list` into `into` as strings capped to
 * MAX_ATTRIBUTE_VALUE_LENGTH characters (compound values as JSON), counting what was removed. An
 * existing key in `into` is kept unless `overwrite`.
 */
export function filterAttributes(
  list: readonly OtlpKeyValue[],
  allow: ReadonlySet<string>,
  into: Record<string, string>,
  counts: FilterCounts,
  overwrite = true,
): void {
  for (const kv of list) {
    if (!allow.has(kv.key)) {
      counts.dropped++;
      continue;
    }
    if (!overwrite && Object.hasOwn(into, kv.key)) continue;
    let text = stringifyAttributeValue(kv.value);
    if (text.length > MAX_ATTRIBUTE_VALUE_LENGTH) {
      text = text.slice(0, MAX_ATTRIBUTE_VALUE_LENGTH);
      counts.truncated++;
    }
    into[kv.key] = text;
  }
}

/** The string form a stored attribute takes: primitives as text, arrays and maps as JSON, empty as "". */
export function stringifyAttributeValue(value: OtlpAttributeValue): string {
  switch (typeof value) {
    case "string":
      return value;
    case "number":
    case "boolean":
      return String(value);
    default:
      return value === null ? "" : JSON.stringify(value);
  }
}

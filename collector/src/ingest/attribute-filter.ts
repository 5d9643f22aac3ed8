import { MAX_ATTRIBUTE_VALUE_LENGTH } from "@troupe/contract";
import type { AttributeType, AttributeTypes } from "../store/attribute-types.js";
import type { OtlpAttributeValue, OtlpKeyValue } from "./otlp-traces.js";

/** What filtering one attribute list kept and removed. */
export interface FilterCounts {
  /** Attributes removed because their key is not allow-listed. */
  dropped: number;
  /** Kept values cut to MAX_ATTRIBUTE_VALUE_LENGTH. */
  truncated: number;
}

/**
 * Copies the allow-listed attributes of `list` into `into` as their stored text (attributeText)
 * capped to MAX_ATTRIBUTE_VALUE_LENGTH characters, and the type of each that is not a plain string
 * into `types` (`truncated` for a cut value), counting what was removed. An existing key in `into`
 * is kept unless `overwrite`.
 */
export function filterAttributes(
  list: readonly OtlpKeyValue[],
  allow: ReadonlySet<string>,
  into: Record<string, string>,
  types: AttributeTypes,
  counts: FilterCounts,
  overwrite = true,
): void {
  for (const kv of list) {
    if (!allow.has(kv.key)) {
      counts.dropped++;
      continue;
    }
    if (!overwrite && Object.hasOwn(into, kv.key)) continue;
    let text = attributeText(kv.value, kv.type);
    if (text.length > MAX_ATTRIBUTE_VALUE_LENGTH) {
      text = text.slice(0, MAX_ATTRIBUTE_VALUE_LENGTH);
      counts.truncated++;
      types[kv.key] = "truncated";
    } else if (kv.type !== undefined) types[kv.key] = kv.type;
    else delete types[kv.key];
    into[kv.key] = text;
  }
}

/**
 * The text a value of `type` is stored as (attribute-types.ts): primitives as their text, typed
 * arrays as compact JSON with ints as exact digits, anything else as JSON, empty as "".
 */
export function attributeText(value: OtlpAttributeValue, type: AttributeType | undefined): string {
  if (type === "int[]" || type === "double[]") {
    if (!Array.isArray(value)) return stringifyAttributeValue(value);
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      const e = value[i];
      if (i > 0) out += ",";
      // Ints past 2^53 arrive as decimal strings, written as digits; non-finite doubles as OTLP/JSON's strings.
      out += type === "int[]" ? String(e) : typeof e === "number" && Number.isFinite(e) ? String(e) : JSON.stringify(typeof e === "number" ? String(e) : e);
    }
    return out + "]";
  }
  return stringifyAttributeValue(value);
}

/** The string form of an untyped value: primitives as text, arrays and maps as JSON, empty as "". */
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

/** The type of an array whose elements' types are `elementTypes` (undefined: string): `X[]` when they share one. */
export function arrayType(elementTypes: readonly (AttributeType | undefined | "other")[]): AttributeType | undefined {
  const first = elementTypes.length === 0 ? undefined : elementTypes[0];
  for (const t of elementTypes) if (t !== first) return undefined;
  switch (first) {
    case undefined:
      return "string[]";
    case "bool":
    case "int":
    case "double":
      return `${first}[]`;
    default:
      return undefined;
  }
}

/**
 * How a stored attribute keeps its OTLP type. Values are stored as text (the `attributes` maps and
 * the derived columns read them as such); a parallel map (`attribute_types`) names the OTLP type of
 * every value that was not a plain string, so the query API answers numbers and booleans and the
 * forwarder sends the `AnyValue` the span was sent with.
 *
 * The text of each type:
 * - `bool`: `true` / `false`;
 * - `int`: the int64 in decimal, exact;
 * - `double`: the shortest text that reads back as the same double (`NaN`, `Infinity`, `-Infinity`);
 * - `bytes`: base64;
 * - `string[]`, `bool[]`, `int[]`, `double[]`: a JSON array of the elements (ints as exact digits,
 *   non-finite doubles as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`); an empty array is `string[]`.
 * - `truncated`: a string cut to MAX_ATTRIBUTE_VALUE_LENGTH characters (whatever its type was: a
 *   cut array is no longer one).
 * Absent from the map: a string. Key-value lists, and arrays mixing types or holding arrays, are
 * stored as their JSON text, as strings; an empty AnyValue as the empty string.
 */
export type AttributeType = "bool" | "int" | "double" | "bytes" | "string[]" | "bool[]" | "int[]" | "double[]";

/** What `attribute_types` may say of a stored value. */
export type StoredAttributeType = AttributeType | "truncated";

/** The types of the values of one attribute map that are not plain strings, by key. */
export type AttributeTypes = Record<string, StoredAttributeType>;

/** The stored type names, for validating what is read back. */
export const STORED_ATTRIBUTE_TYPES: ReadonlySet<string> = new Set<StoredAttributeType>(["bool", "int", "double", "bytes", "string[]", "bool[]", "int[]", "double[]", "truncated"]);

/** A value as the query API answers it: JSON numbers, booleans and arrays where the span had them. */
export type TypedAttributeValue = string | number | boolean | (string | number | boolean)[];

/**
 * A stored value with its stored type, as JSON: ints are numbers when exactly representable and
 * decimal strings past 2^53 (as OTLP/JSON writes int64), non-finite doubles the strings OTLP/JSON
 * uses, bytes and truncated values strings. Text that does not parse as its type stays text.
 */
export function typedAttributeValue(text: string, type: StoredAttributeType | undefined): TypedAttributeValue {
  switch (type) {
    case undefined:
    case "bytes":
    case "truncated":
      return text;
    case "bool":
      return text === "true";
    case "int":
      return intValue(text);
    case "double":
      return doubleValue(text);
    default: {
      const elements = parseArrayText(text);
      if (elements === undefined) return text;
      if (type === "int[]") return elements.map((e) => intValue(String(e)));
      if (type === "double[]") return elements.map((e) => (typeof e === "string" ? e : doubleValue(String(e))));
      return elements as (string | number | boolean)[];
    }
  }
}

function intValue(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

function doubleValue(text: string): number | string {
  return text === "NaN" || text === "Infinity" || text === "-Infinity" ? text : Number(text);
}

/**
 * The elements of a stored array's JSON text, ints kept as exact digit strings where JSON.parse
 * would round them; undefined when the text is not a JSON array (never for what ingest stored).
 */
function parseArrayText(text: string): (string | number | boolean)[] | undefined {
  try {
    const quoted = text.replace(/(?<=[[,])(-?\d{16,})(?=[,\]])/g, '"$1"');
    const parsed: unknown = JSON.parse(quoted);
    return Array.isArray(parsed) ? (parsed as (string | number | boolean)[]) : undefined;
  } catch {
    return undefined;
  }
}

/** An OTLP AnyValue in the protobuf JSON mapping (int64 as decimal strings, bytes as base64). */
export type OtlpJsonAnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number | string }
  | { bytesValue: string }
  | { arrayValue: { values: OtlpJsonAnyValue[] } };

/** The AnyValue a stored value was sent as (its JSON mapping), for forwarding it as it came. */
export function otlpAnyValue(text: string, type: StoredAttributeType | undefined): OtlpJsonAnyValue {
  switch (type) {
    case undefined:
    case "truncated":
      return { stringValue: text };
    case "bytes":
      return { bytesValue: text };
    case "bool":
      return { boolValue: text === "true" };
    case "int":
      return { intValue: text };
    case "double":
      return { doubleValue: doubleValue(text) };
    default: {
      const elements = parseArrayText(text);
      if (elements === undefined) return { stringValue: text };
      const element = (e: string | number | boolean): OtlpJsonAnyValue =>
        type === "int[]" ? { intValue: String(e) } : type === "double[]" ? { doubleValue: typeof e === "boolean" ? Number(e) : e } : type === "bool[]" ? { boolValue: e === true } : { stringValue: String(e) };
      return { arrayValue: { values: elements.map(element) } };
    }
  }
}

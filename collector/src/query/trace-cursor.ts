import { CollectorError } from "../errors.js";

/** A position in the newest-first trace list: the trace start (ns since epoch) and the trace id. */
export interface TraceCursor {
  startNs: string;
  traceId: string;
}

/** Encodes a cursor as opaque base64url text. */
export function encodeTraceCursor(cursor: TraceCursor): string {
  return Buffer.from(`${cursor.startNs}:${cursor.traceId}`, "utf8").toString("base64url");
}

/** Decodes a cursor; anything not produced by encodeTraceCursor is a bad_request naming "cursor". */
export function decodeTraceCursor(text: string): TraceCursor {
  const bad = () => new CollectorError("bad_request", `invalid parameter "cursor": not a cursor from a previous page`);
  if (text.length > 100 || !/^[A-Za-z0-9_-]+$/.test(text)) throw bad();
  const m = /^(\d{1,20}):([0-9a-f]{32})$/.exec(Buffer.from(text, "base64url").toString("utf8"));
  if (!m?.[1] || !m[2]) throw bad();
  if (BigInt(m[1]) > 18446744073709551615n) throw bad();
  return { startNs: m[1], traceId: m[2] };
}

import { CONTROL_HEADERS } from "@troupe/contract";
import { CollectorError } from "../errors.js";

/** A runtime id as CONTROL_HEADERS.runtimeId carries it: 1-128 of A-Z a-z 0-9 . _ : - */
export const RUNTIME_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
const NAME_PATTERN = /^[\u0020-\u007e\u00a0-\u00ff]{0,200}$/;
const VERSION_PATTERN = /^\d{1,16}$/;

/** The check-in a settings read carries; `runtimeId` null when the reader sent none (nothing is recorded). */
export interface CheckInHeaders {
  runtimeId: string | null;
  name: string;
  appliedVersion: number;
}

/**
 * Reads CONTROL_HEADERS. Throws a CollectorError "bad_request" naming the header when one is
 * malformed: an id that is not 1-128 of [A-Za-z0-9._:-], a name over 200 characters or with
 * control characters, an applied version that is not a whole number. Absent: no id, name "", version 0.
 */
export function parseCheckInHeaders(header: (name: string) => string | undefined): CheckInHeaders {
  const id = header(CONTROL_HEADERS.runtimeId);
  const name = header(CONTROL_HEADERS.runtimeName);
  const version = header(CONTROL_HEADERS.appliedVersion);
  if (id !== undefined && !RUNTIME_ID_PATTERN.test(id)) throw bad(CONTROL_HEADERS.runtimeId, "must be 1-128 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'");
  if (name !== undefined && !NAME_PATTERN.test(name)) throw bad(CONTROL_HEADERS.runtimeName, "must be at most 200 printable characters");
  const applied = version === undefined ? 0 : VERSION_PATTERN.test(version.trim()) ? Number(version.trim()) : Number.NaN;
  if (!Number.isSafeInteger(applied)) throw bad(CONTROL_HEADERS.appliedVersion, "must be a whole number (the settings version applied, 0 before any)");
  return { runtimeId: id ?? null, name: name?.trim() ?? "", appliedVersion: applied };
}

function bad(header: string, problem: string): CollectorError {
  return new CollectorError("bad_request", `invalid header "${header}": ${problem}`);
}

import { CollectorApiError } from "./collector-error";

/** The outcome of loading one piece of a page: the data, or a message fit to show. */
export type Loaded<T> = { ok: true; data: T } | { ok: false; code: string; message: string };

/**
 * Awaits a collector call and turns a failure into a message a page can show in its error state,
 * so one failing section never blanks the whole page. A slow collector (`timeout`) and one that
 * cannot be reached (`unreachable`) are told apart: the first is up and busy, the second is down.
 */
export async function load<T>(promise: Promise<T>): Promise<Loaded<T>> {
  try {
    return { ok: true, data: await promise };
  } catch (err) {
    if (err instanceof CollectorApiError) return { ok: false, code: err.code, message: failureMessage(err) };
    return { ok: false, code: "internal", message: "An unexpected error occurred while loading this data." };
  }
}

/** What a page says about a failed collector call. */
export function failureMessage(err: CollectorApiError): string {
  switch (err.code) {
    case "timeout":
      return "The collector is slow to answer right now: this data did not arrive in time. It may be busy; try again, or choose a shorter time range.";
    case "unreachable":
      return "The collector is not reachable right now. The page will show data again once it is back.";
    case "unauthenticated":
      return "Your key is no longer accepted (it may have been rotated or revoked). Sign out and sign in with a current key.";
    default:
      return err.message;
  }
}

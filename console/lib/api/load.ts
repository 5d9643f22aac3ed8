import { CollectorApiError } from "./collector-error";

/** The outcome of loading one piece of a page: the data, or a message fit to show. */
export type Loaded<T> = { ok: true; data: T } | { ok: false; code: string; message: string };

/**
 * Awaits a collector call and turns a failure into a message a page can show in its error state,
 * so one failing section never blanks the whole page.
 */
export async function load<T>(promise: Promise<T>): Promise<Loaded<T>> {
  try {
    return { ok: true, data: await promise };
  } catch (err) {
    if (err instanceof CollectorApiError) {
      const message =
        err.code === "unreachable"
          ? "The collector is not reachable right now. The page will show data again once it is back."
          : err.code === "unauthenticated"
            ? "Your key is no longer accepted (it may have been rotated or revoked). Sign out and sign in with a current key."
            : err.message;
      return { ok: false, code: err.code, message };
    }
    return { ok: false, code: "internal", message: "An unexpected error occurred while loading this data." };
  }
}

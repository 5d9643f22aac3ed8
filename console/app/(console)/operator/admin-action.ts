// What every operator action does first and how it reports a failure: check the CSRF token and that
// the session is an admin's, then turn any error into a message shown beside the form (never an
// error page).
import { CollectorApiError } from "../../../lib/api/collector-error";
import type { CollectorClient } from "../../../lib/api/collector-client";
import { fieldOfCollectorMessage, type FormResult } from "../../../lib/format/tenant-forms";
import { assertCsrf, CsrfError } from "../../../lib/security/csrf-server";
import { clientFor, getSession } from "../../../lib/session/server-session";

/** A collector client with the signed-in admin's key, once the form's CSRF token checks out. */
export async function adminClient(form: FormData): Promise<CollectorClient> {
  await assertCsrf(form);
  const session = await getSession();
  if (!session || session.kind !== "admin") throw new CollectorApiError("forbidden", 403, "Only an operator signed in with the admin key can do this.");
  return clientFor(session);
}

/**
 * A failed action as a form result: the CSRF or collector message as it is, placed beside the field
 * it names when the collector named a parameter; `values` keeps what the operator typed.
 */
export function failure<T>(err: unknown, values?: Record<string, string>): FormResult<T> {
  if (err instanceof CsrfError) return { ok: false, message: err.message, values };
  if (err instanceof CollectorApiError) {
    if (err.code === "conflict") return { ok: false, message: "A tenant with this id already exists.", fieldErrors: { id: "This id is taken" }, values };
    const field = err.code === "bad_request" ? fieldOfCollectorMessage(err.message) : undefined;
    const message = err.code === "bad_request" ? `The collector refused the change: ${err.message}` : err.message;
    return { ok: false, message, fieldErrors: field ? { [field]: err.message } : undefined, values };
  }
  return { ok: false, message: "Something went wrong. Try again.", values };
}

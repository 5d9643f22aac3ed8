import { cookies } from "next/headers";
import { loadConfig } from "../config";
import { CSRF_COOKIE, CSRF_FIELD, csrfTokenFor, verifyCsrfToken } from "./csrf";

/** The CSRF token forms of this request must carry ("" if the browser has no CSRF cookie yet). */
export async function currentCsrfToken(): Promise<string> {
  const secret = (await cookies()).get(CSRF_COOKIE)?.value;
  return secret ? csrfTokenFor(secret, loadConfig().sessionKey) : "";
}

/** Thrown by `assertCsrf` when a state-changing request lacks a valid token. */
export class CsrfError extends Error {
  readonly code = "csrf_failed";
  constructor() {
    super("This form expired or did not come from this console. Reload the page and try again.");
    this.name = "CsrfError";
  }
}

/**
 * Checks the CSRF token of a submitted form against this browser's CSRF cookie. Every Server
 * Action calls it first (on top of Next's own Origin check).
 */
export async function assertCsrf(form: FormData): Promise<void> {
  const secret = (await cookies()).get(CSRF_COOKIE)?.value;
  if (!verifyCsrfToken(secret, form.get(CSRF_FIELD), loadConfig().sessionKey)) throw new CsrfError();
}

import { cookies } from "next/headers";
import { loadConfig } from "../config";
import { CSRF_COOKIE, CSRF_FIELD, CSRF_REFUSED_MESSAGE, csrfTokenFor, verifyCsrfToken } from "./csrf";

/** The CSRF token forms of this request must carry ("" if the browser has no CSRF cookie yet). */
export async function currentCsrfToken(): Promise<string> {
  const secret = (await cookies()).get(CSRF_COOKIE)?.value;
  return secret ? csrfTokenFor(secret, loadConfig().sessionKey) : "";
}

/** Thrown by `assertCsrf` when a form lacks a valid token. */
export class CsrfError extends Error {
  readonly code = "csrf_failed";
  constructor() {
    super(CSRF_REFUSED_MESSAGE);
    this.name = "CsrfError";
  }
}

/**
 * Checks the CSRF token of a submitted form against this browser's CSRF cookie; every Server Action
 * calls it first, and a form that fails it shows the CsrfError's message beside its fields. (A
 * whole-page post without a valid token never reaches an action: proxy.ts answers it 403.)
 */
export async function assertCsrf(form: FormData): Promise<void> {
  const secret = (await cookies()).get(CSRF_COOKIE)?.value;
  if (!verifyCsrfToken(secret, form.get(CSRF_FIELD), loadConfig().sessionKey)) throw new CsrfError();
}

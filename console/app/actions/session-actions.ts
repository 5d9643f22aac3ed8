"use server";
// Sign in and sign out. Both are state-changing: each checks the CSRF token first.
import { redirect } from "next/navigation";
import { z } from "zod";
import { CollectorClient } from "../../lib/api/collector-client";
import { CollectorApiError } from "../../lib/api/collector-error";
import { loadConfig } from "../../lib/config";
import { assertCsrf, CsrfError } from "../../lib/security/csrf-server";
import { RETURN_PARAM, safeReturnPath } from "../../lib/security/return-path";
import { endSession, startSession } from "../../lib/session/server-session";

/** What the sign-in form shows after a failed attempt. */
export interface SignInState {
  error: string | null;
}

/** What the sign-out button shows when sign-out was refused. */
export interface SignOutState {
  error: string | null;
}

const keySchema = z
  .string({ error: "Enter your console key or admin key." })
  .trim()
  .min(1, "Enter your console key or admin key.")
  .max(512, "That is too long to be a Troupe key.")
  .regex(/^\S+$/, "A key has no spaces in it.");

/**
 * Validates the key with the collector and starts a session; on success redirects to the page the
 * visitor asked for (the form's `next` field, same-origin paths only), else into the console.
 */
export async function signIn(_prev: SignInState, form: FormData): Promise<SignInState> {
  try {
    await assertCsrf(form);
  } catch (err) {
    if (err instanceof CsrfError) return { error: err.message };
    throw err;
  }
  const parsed = keySchema.safeParse(form.get("key") ?? "");
  if (!parsed.success) return { error: parsed.error.issues[0]?.message ?? "Enter a key." };
  const key = parsed.data;

  let destination: string;
  try {
    const { collectorUrl, collectorTimeoutMs } = loadConfig();
    const identity = await new CollectorClient({ baseUrl: collectorUrl, key, timeoutMs: collectorTimeoutMs }).identify();
    await startSession({ key, kind: identity.kind, tenantId: identity.kind === "console" ? identity.tenantId : "" });
    destination = safeReturnPath(form.get(RETURN_PARAM)) ?? (identity.kind === "admin" ? "/operator" : "/");
  } catch (err) {
    return { error: signInMessage(err) };
  }
  redirect(destination);
}

function signInMessage(err: unknown): string {
  if (err instanceof CollectorApiError) {
    switch (err.code) {
      case "unauthenticated":
        return "That key was not recognised, or it has been revoked. Check it and try again.";
      case "forbidden":
        return "This key cannot sign in to the console (it is an ingest key). Use a tenant console key or the admin key.";
      case "unreachable":
        return "The collector is not reachable right now, so the key could not be checked. Try again in a moment.";
      case "timeout":
        return "The collector is slow to answer right now, so the key could not be checked in time. Try again in a moment.";
      default:
        return `The collector could not check this key: ${err.message}`;
    }
  }
  return "Something went wrong while signing in. Try again.";
}

/** Ends the session and returns to the sign-in page; a refused form (CSRF) keeps the session and says why. */
export async function signOut(_prev: SignOutState, form: FormData): Promise<SignOutState> {
  try {
    await assertCsrf(form);
  } catch (err) {
    if (err instanceof CsrfError) return { error: err.message };
    throw err;
  }
  await endSession();
  redirect("/sign-in");
}

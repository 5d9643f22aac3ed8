"use client";
// The header's sign-out button; a refused sign-out (an expired form) says why beside it.
import { useActionState } from "react";
import { signOut, type SignOutState } from "../app/actions/session-actions";

/** Sign-out form posting to the `signOut` Server Action with the CSRF token. */
export function SignOutForm({ csrf }: { csrf: string }) {
  const [state, action, pending] = useActionState<SignOutState, FormData>(signOut, { error: null });
  return (
    <form action={action} className="sign-out">
      <input type="hidden" name="csrf" value={csrf} />
      {state.error ? <span className="field-hint sign-out-error" role="alert">{state.error}</span> : null}
      <button type="submit" className="btn btn-sm" disabled={pending}>{pending ? "Signing out…" : "Sign out"}</button>
    </form>
  );
}

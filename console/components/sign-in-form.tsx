"use client";
// The sign-in form: one key field; failures are announced in an alert.
import { useActionState } from "react";
import { signIn, type SignInState } from "../app/actions/session-actions";

/** Sign-in form posting to the `signIn` Server Action with the CSRF token and the page to return to (`next`). */
export function SignInForm({ csrf, next }: { csrf: string; next: string | null }) {
  const [state, action, pending] = useActionState<SignInState, FormData>(signIn, { error: null });
  return (
    <form action={action} className="field" style={{ gap: 14 }} noValidate>
      <input type="hidden" name="csrf" value={csrf} />
      {next ? <input type="hidden" name="next" value={next} /> : null}
      <div className="field">
        <label htmlFor="key">Console key or admin key</label>
        <input
          id="key"
          name="key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          placeholder="trp_console_…"
          required
          aria-invalid={state.error ? true : undefined}
          aria-describedby={state.error ? "sign-in-error" : "key-hint"}
          autoFocus
        />
        <span id="key-hint" className="field-hint">Your operator gives each tenant a console key. Operators sign in with the admin key.</span>
      </div>
      {state.error ? (
        <div id="sign-in-error" className="alert alert-error" role="alert" data-testid="sign-in-error">
          {state.error}
        </div>
      ) : null}
      <button type="submit" className="btn btn-primary" disabled={pending}>
        {pending ? "Checking key…" : "Sign in"}
      </button>
    </form>
  );
}

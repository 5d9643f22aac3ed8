"use client";
// The operator's webhook controls on a tenant page: set the URL (its signing secret is shown once),
// send a test event (the attempt's outcome is shown), remove it.
import { useActionState } from "react";
import { removeWebhookAction, setWebhookAction, testWebhookAction } from "../app/(console)/operator/actions";
import type { SetWebhookResponse, WebhookDelivery } from "../lib/api/types";
import type { FormResult } from "../lib/format/tenant-forms";
import { Field, Status } from "./operator-forms";

/** Sets or replaces the tenant's webhook URL and shows the new signing secret once. */
export function SetWebhookForm({ csrf, tenantId, current }: { csrf: string; tenantId: string; current: string | null }) {
  const [state, action, pending] = useActionState<FormResult<SetWebhookResponse>, FormData>(setWebhookAction, { ok: false, message: null });
  const error = state.fieldErrors?.url;
  return (
    <form action={action} aria-label="Set webhook" data-testid="webhook-set" noValidate>
      <input type="hidden" name="csrf" value={csrf} />
      <input type="hidden" name="tenantId" value={tenantId} />
      <div className="inline-form">
        <Field id="wh-url" label="Webhook URL" error={error} hint="Alert events are POSTed here as signed JSON">
          <input
            id="wh-url"
            name="url"
            type="url"
            placeholder="https://alerts.example.com/troupe"
            defaultValue={!state.ok && state.values ? state.values.url : (current ?? "")}
            key={state.ok ? `set-${state.data?.url}` : "input"}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? "wh-url-error" : undefined}
          />
        </Field>
        <button type="submit" className="btn btn-primary" disabled={pending}>{pending ? "Saving…" : current ? "Replace webhook" : "Set webhook"}</button>
      </div>
      <Status result={state} />
      {state.ok && state.data ? (
        <div className="alert alert-warn" style={{ flexDirection: "column", marginTop: 14 }} data-testid="webhook-secret-once">
          <strong>Copy this signing secret now: it is shown only once.</strong>
          <span>Receivers check each event&apos;s <span className="mono">Troupe-Signature</span> header with it (HMAC-SHA256). Setting the URL again issues a new secret.</span>
          <code className="secret" data-testid="webhook-secret">{state.data.secret}</code>
        </div>
      ) : null}
    </form>
  );
}

/** Sends a "test" event to the tenant's webhook and shows how the attempt ended. */
export function TestWebhookForm({ csrf, tenantId }: { csrf: string; tenantId: string }) {
  const [state, action, pending] = useActionState<FormResult<WebhookDelivery>, FormData>(testWebhookAction, { ok: false, message: null });
  return (
    <form action={action} aria-label="Send test event" data-testid="webhook-test">
      <input type="hidden" name="csrf" value={csrf} />
      <input type="hidden" name="tenantId" value={tenantId} />
      <button type="submit" className="btn" disabled={pending}>{pending ? "Sending…" : "Send test event"}</button>
      <Status result={state} />
    </form>
  );
}

/** Removes the tenant's webhook. */
export function RemoveWebhookForm({ csrf, tenantId }: { csrf: string; tenantId: string }) {
  const [state, action, pending] = useActionState<FormResult, FormData>(removeWebhookAction, { ok: false, message: null });
  return (
    <form action={action} aria-label="Remove webhook" data-testid="webhook-remove">
      <input type="hidden" name="csrf" value={csrf} />
      <input type="hidden" name="tenantId" value={tenantId} />
      <button type="submit" className="btn btn-danger" disabled={pending}>{pending ? "Removing…" : "Remove webhook"}</button>
      <Status result={state} />
    </form>
  );
}

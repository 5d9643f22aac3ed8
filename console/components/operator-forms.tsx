"use client";
// Operator forms: create a tenant, edit its settings, issue or rotate keys. Secrets returned by the
// collector are shown here once and never stored by the console.
import { useActionState } from "react";
import { createTenantAction, issueKeyAction, updateTenantAction } from "../app/(console)/operator/actions";
import type { IssuedKey, TenantRecord } from "../lib/api/types";
import type { FormResult } from "../lib/format/tenant-forms";

function Field({ id, label, error, hint, children }: { id: string; label: string; error?: string; hint?: string; children: React.ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
      {error ? <span className="field-hint" id={`${id}-error`} style={{ color: "var(--err)" }}>{error}</span> : hint ? <span className="field-hint">{hint}</span> : null}
    </div>
  );
}

function Status({ result }: { result: FormResult<unknown> }) {
  if (!result.message) return null;
  return (
    <div className={`alert ${result.ok ? "alert-success" : "alert-error"}`} role={result.ok ? "status" : "alert"} data-testid="form-status" style={{ marginTop: 14 }}>
      {result.message}
    </div>
  );
}

/** Secrets shown exactly once after they are issued. */
export function SecretsOnce({ keys }: { keys: IssuedKey[] }) {
  return (
    <div className="alert alert-warn" style={{ flexDirection: "column", marginTop: 14 }} data-testid="secrets-once">
      <strong>Copy {keys.length === 1 ? "this key" : "these keys"} now: {keys.length === 1 ? "it is" : "they are"} shown only once.</strong>
      {keys.map((k) => (
        <div key={k.keyId} style={{ width: "100%" }}>
          <span>{k.kind} key <span className="mono">{k.keyId}</span></span>
          <code className="secret" data-testid={`secret-${k.kind}`}>{k.secret}</code>
        </div>
      ))}
    </div>
  );
}

function BudgetFields({ values, errors, prefix }: { values?: TenantRecord["budgets"]; errors?: Record<string, string>; prefix: string }) {
  const v = (n: number | null | undefined) => (n === null || n === undefined ? "" : String(n));
  return (
    <>
      <Field id={`${prefix}-dt`} label="Daily token budget" error={errors?.dailyTokens} hint="Empty: no limit">
        <input id={`${prefix}-dt`} name="dailyTokens" type="number" min={0} step={1} defaultValue={v(values?.dailyTokens)} />
      </Field>
      <Field id={`${prefix}-mt`} label="Monthly token budget" error={errors?.monthlyTokens} hint="Empty: no limit">
        <input id={`${prefix}-mt`} name="monthlyTokens" type="number" min={0} step={1} defaultValue={v(values?.monthlyTokens)} />
      </Field>
      <Field id={`${prefix}-dc`} label="Daily cost budget (USD)" error={errors?.dailyCostUsd} hint="Empty: no limit">
        <input id={`${prefix}-dc`} name="dailyCostUsd" type="number" min={0} step="any" defaultValue={v(values?.dailyCostUsd)} />
      </Field>
      <Field id={`${prefix}-mc`} label="Monthly cost budget (USD)" error={errors?.monthlyCostUsd} hint="Empty: no limit">
        <input id={`${prefix}-mc`} name="monthlyCostUsd" type="number" min={0} step="any" defaultValue={v(values?.monthlyCostUsd)} />
      </Field>
    </>
  );
}

function TierSelect({ id, value, error }: { id: string; value?: string; error?: string }) {
  return (
    <Field id={id} label="Isolation tier" error={error}>
      <select id={id} name="tier" defaultValue={value ?? "shared"}>
        <option value="shared">Shared (event loop)</option>
        <option value="worker">Worker thread</option>
        <option value="process">Child process</option>
      </select>
    </Field>
  );
}

/** Creates a tenant and shows its new ingest and console keys once. */
export function CreateTenantForm({ csrf }: { csrf: string }) {
  const [state, action, pending] = useActionState<FormResult<{ tenant: TenantRecord; keys: IssuedKey[] }>, FormData>(createTenantAction, { ok: false, message: null });
  const e = state.fieldErrors;
  return (
    <form action={action} aria-label="Create tenant" data-testid="create-tenant-form">
      <input type="hidden" name="csrf" value={csrf} />
      <div className="form-grid">
        <Field id="ct-id" label="Tenant id" error={e?.id} hint="Lowercase letters, digits, _ and -">
          <input id="ct-id" name="id" type="text" required pattern="[a-z0-9][a-z0-9_\-]{0,62}" autoComplete="off" aria-invalid={e?.id ? true : undefined} />
        </Field>
        <Field id="ct-name" label="Display name" error={e?.name} hint="Defaults to the id">
          <input id="ct-name" name="name" type="text" autoComplete="off" />
        </Field>
        <TierSelect id="ct-tier" error={e?.tier} />
        <Field id="ct-ret" label="Retention (days)" error={e?.retentionDays}>
          <input id="ct-ret" name="retentionDays" type="number" min={1} max={3650} defaultValue={30} required />
        </Field>
        <BudgetFields prefix="ct" errors={e} />
      </div>
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={pending}>{pending ? "Creating…" : "Create tenant"}</button>
      </div>
      <Status result={state} />
      {state.ok && state.data ? <SecretsOnce keys={state.data.keys} /> : null}
    </form>
  );
}

/** Edits a tenant's name, tier, retention and budgets. */
export function TenantSettingsForm({ csrf, tenant }: { csrf: string; tenant: TenantRecord }) {
  const [state, action, pending] = useActionState<FormResult, FormData>(updateTenantAction, { ok: false, message: null });
  const e = state.fieldErrors;
  return (
    <form action={action} aria-label="Tenant settings">
      <input type="hidden" name="csrf" value={csrf} />
      <input type="hidden" name="tenantId" value={tenant.id} />
      <div className="form-grid">
        <Field id="ts-name" label="Display name" error={e?.name}>
          <input id="ts-name" name="name" type="text" defaultValue={tenant.name} required />
        </Field>
        <TierSelect id="ts-tier" value={tenant.tier} error={e?.tier} />
        <Field id="ts-ret" label="Retention (days)" error={e?.retentionDays} hint="Older spans are deleted">
          <input id="ts-ret" name="retentionDays" type="number" min={1} max={3650} defaultValue={tenant.retentionDays} required />
        </Field>
        <BudgetFields prefix="ts" values={tenant.budgets} errors={e} />
      </div>
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={pending}>{pending ? "Saving…" : "Save settings"}</button>
      </div>
      <Status result={state} />
    </form>
  );
}

/** Issues a new key of one kind, revoking the old ones when `rotate`; shows the secret once. */
export function KeyRotationForm({ csrf, tenantId, kind }: { csrf: string; tenantId: string; kind: "ingest" | "console" }) {
  const [state, action, pending] = useActionState<FormResult<{ key: IssuedKey; revokedKeyIds: string[] }>, FormData>(issueKeyAction, { ok: false, message: null });
  return (
    <form action={action} aria-label={`Rotate ${kind} key`} data-testid={`rotate-${kind}`}>
      <input type="hidden" name="csrf" value={csrf} />
      <input type="hidden" name="tenantId" value={tenantId} />
      <input type="hidden" name="kind" value={kind} />
      <input type="hidden" name="rotate" value="true" />
      <button type="submit" className="btn" disabled={pending}>{pending ? "Rotating…" : `Rotate ${kind} key`}</button>
      <Status result={state} />
      {state.ok && state.data ? <SecretsOnce keys={[state.data.key]} /> : null}
    </form>
  );
}

"use client";
// Operator forms: create a tenant, edit its settings, issue or rotate keys. Secrets returned by the
// collector are shown here once and never stored by the console.
import { useActionState } from "react";
import { createTenantAction, issueKeyAction, updateTenantAction } from "../app/(console)/operator/actions";
import type { IssuedKey, TenantRecord } from "../lib/api/types";
import { BUDGET_FIELDS, DEFAULT_ALERT_PERCENTS, QUOTA_FIELDS, RATE_LIMIT_FIELDS, SAMPLING_FIELD, settingsFormValues, unsetHint, type FormResult, type NumberFieldSpec } from "../lib/format/tenant-forms";

/** A labelled form field with its hint, or its error in place of the hint. */
export function Field({ id, label, error, hint, children }: { id: string; label: string; error?: string; hint?: string; children: React.ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
      {error ? <span className="field-hint" id={`${id}-error`} style={{ color: "var(--err)" }}>{error}</span> : hint ? <span className="field-hint">{hint}</span> : null}
    </div>
  );
}

/** A form's outcome message (success or refusal). */
export function Status({ result }: { result: FormResult<unknown> }) {
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

function NumberField({ prefix, spec, value, error }: { prefix: string; spec: NumberFieldSpec; value: string; error?: string }) {
  const id = `${prefix}-${spec.name}`;
  return (
    <Field id={id} label={spec.label} error={error} hint={unsetHint(spec.unset)}>
      <input
        id={id}
        name={spec.name}
        type="number"
        min={spec.exclusive ? undefined : spec.min}
        max={spec.max !== undefined && spec.max < Number.MAX_SAFE_INTEGER ? spec.max : undefined}
        step={spec.step ?? "any"}
        defaultValue={value}
        placeholder={spec.unset === "unlimited" ? "unlimited" : "not set"}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
      />
    </Field>
  );
}

function BudgetFields({ values, errors, prefix }: { values?: Record<string, string>; errors?: Record<string, string>; prefix: string }) {
  return (
    <>
      {BUDGET_FIELDS.map((spec) => <NumberField key={spec.name} prefix={prefix} spec={spec} value={values?.[spec.name] ?? ""} error={errors?.[spec.name]} />)}
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

/** A titled group of settings fields, with what leaving its fields empty means. */
function Section({ title, note, children }: { title: string; note: string; children: React.ReactNode }) {
  return (
    <fieldset className="form-section">
      <legend>{title}</legend>
      <p className="form-section-note">{note}</p>
      <div className="form-grid">{children}</div>
    </fieldset>
  );
}

/**
 * Edits every setting of a tenant: name, tier, retention, budgets, quotas, LLM rate limits, trace
 * sampling and budget alert thresholds. A refused submission keeps what the operator typed and names
 * each bad field; nothing is saved unless every field is valid.
 */
export function TenantSettingsForm({ csrf, tenant }: { csrf: string; tenant: TenantRecord }) {
  const [state, action, pending] = useActionState<FormResult, FormData>(updateTenantAction, { ok: false, message: null });
  const e = state.fieldErrors;
  // After a refusal the fields show what was typed; after a save (or on load), the stored settings.
  const v = !state.ok && state.values ? state.values : settingsFormValues(tenant);
  const generation = `${state.ok ? "saved" : state.values ? "refused" : "stored"}-${tenant.settingsVersion}`;
  return (
    <form action={action} aria-label="Tenant settings" data-testid="tenant-settings-form" noValidate key={generation}>
      <input type="hidden" name="csrf" value={csrf} />
      <input type="hidden" name="tenantId" value={tenant.id} />
      <Section title="General" note="Retention is applied by the collector, to spans and usage records; the tier decides where a runtime runs this tenant's next turns.">
        <Field id="ts-name" label="Display name" error={e?.name}>
          <input id="ts-name" name="name" type="text" defaultValue={v.name} required aria-invalid={e?.name ? true : undefined} />
        </Field>
        <TierSelect id="ts-tier" value={v.tier} error={e?.tier} />
        <Field id="ts-ret" label="Retention (days)" error={e?.retentionDays} hint="Older spans are deleted">
          <input id="ts-ret" name="retentionDays" type="number" min={1} max={3650} defaultValue={v.retentionDays} required aria-invalid={e?.retentionDays ? true : undefined} />
        </Field>
      </Section>
      <Section title="Budgets" note="Tokens and cost per UTC day and month. A runtime following this collector applies a change on the tenant's next LLM call and refuses calls past a budget, counting what every runtime spent. Empty: not set, and the runtime's own budget (its code) applies, if any; else unlimited.">
        <BudgetFields prefix="ts" values={v} errors={e} />
      </Section>
      <Section title="Quotas" note="Per-tenant limits of a runtime's scheduler, applied at once. Empty: not set, and the runtime's own option (its code) applies.">
        {QUOTA_FIELDS.map((spec) => <NumberField key={spec.name} prefix="ts" spec={spec} value={v[spec.name] ?? ""} error={e?.[spec.name]} />)}
      </Section>
      <Section title="LLM rate limits" note="Requests and tokens per minute across the tenant's LLM calls, applied on the next LLM call. Empty: not set, and the runtime's own option applies.">
        {RATE_LIMIT_FIELDS.map((spec) => <NumberField key={spec.name} prefix="ts" spec={spec} value={v[spec.name] ?? ""} error={e?.[spec.name]} />)}
      </Section>
      <Section title="Trace sampling and alerts" note="Sampling: the share of traces kept, for traces started after the change (failed, refused and slow traces are always kept). Alerts: warnings at these percentages of any budget, and at a window's first refused call.">
        <NumberField prefix="ts" spec={SAMPLING_FIELD} value={v[SAMPLING_FIELD.name] ?? ""} error={e?.[SAMPLING_FIELD.name]} />
        <Field id="ts-alerts" label="Alert thresholds (%)" error={e?.alertThresholds} hint={`1 to 5 percentages, comma-separated; default ${DEFAULT_ALERT_PERCENTS.join(", ")}`}>
          <input id="ts-alerts" name="alertThresholds" type="text" inputMode="decimal" defaultValue={v.alertThresholds} aria-invalid={e?.alertThresholds ? true : undefined} aria-describedby={e?.alertThresholds ? "ts-alerts-error" : undefined} />
        </Field>
      </Section>
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={pending}>{pending ? "Saving…" : "Save settings"}</button>
        <span className="field-hint">Settings version <span className="mono">{tenant.settingsVersion}</span></span>
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

"use server";
// Operator actions: create tenants, change their settings, issue and rotate keys, manage the alert
// webhook. Each checks the CSRF token and that the session is an admin's before calling the
// collector's admin API.
import { revalidatePath } from "next/cache";
import { z } from "zod";
import type { IssuedKey, SetWebhookResponse, TenantRecord, WebhookDelivery } from "../../../lib/api/types";
import { fieldsOf, parseCreateTenantForm, parseUpdateTenantForm, parseWebhookUrl, SETTINGS_FIELDS, type FormResult } from "../../../lib/format/tenant-forms";
import { adminClient, failure } from "./admin-action";

const tenantId = z.string().min(1).max(63);

/** Creates a tenant with an ingest and a console key; the secrets come back once, in the result. */
export async function createTenantAction(_prev: FormResult<{ tenant: TenantRecord; keys: IssuedKey[] }>, form: FormData): Promise<FormResult<{ tenant: TenantRecord; keys: IssuedKey[] }>> {
  try {
    const client = await adminClient(form);
    const parsed = parseCreateTenantForm(form);
    if ("fieldErrors" in parsed) return { ok: false, message: "Check the highlighted fields.", fieldErrors: parsed.fieldErrors };
    const created = await client.createTenant(parsed.request);
    revalidatePath("/operator");
    return { ok: true, message: `Tenant ${created.tenant.id} created.`, data: created };
  } catch (err) {
    return failure(err);
  }
}

/** Saves every setting of a tenant (an empty field clears it); answers with the new settings version. */
export async function updateTenantAction(_prev: FormResult, form: FormData): Promise<FormResult> {
  const values = fieldsOf(form, SETTINGS_FIELDS);
  try {
    const client = await adminClient(form);
    const id = tenantId.parse(form.get("tenantId"));
    const parsed = parseUpdateTenantForm(form);
    if ("fieldErrors" in parsed) return { ok: false, message: "Nothing was saved: check the highlighted fields.", fieldErrors: parsed.fieldErrors, values };
    const { tenant } = await client.updateTenant(id, parsed.request);
    revalidatePath(`/operator/tenants/${id}`);
    revalidatePath("/operator");
    return { ok: true, message: `Settings saved. Version ${tenant.settingsVersion}: runtimes following this collector apply it within seconds.` };
  } catch (err) {
    return failure(err, values);
  }
}

const keySchema = z.object({ tenantId, kind: z.enum(["ingest", "console"]), rotate: z.enum(["true", "false"]) });

/** Issues a key (rotating: revoking the tenant's other keys of that kind); the secret comes back once. */
export async function issueKeyAction(_prev: FormResult<{ key: IssuedKey; revokedKeyIds: string[] }>, form: FormData): Promise<FormResult<{ key: IssuedKey; revokedKeyIds: string[] }>> {
  try {
    const client = await adminClient(form);
    const parsed = keySchema.safeParse({ tenantId: form.get("tenantId"), kind: form.get("kind"), rotate: form.get("rotate") ?? "true" });
    if (!parsed.success) return { ok: false, message: "The key request was malformed: kind must be ingest or console." };
    const { tenantId: id, kind, rotate } = parsed.data;
    const issued = await client.issueKey(id, { kind, rotate: rotate === "true" });
    revalidatePath(`/operator/tenants/${id}`);
    const revoked = issued.revokedKeyIds.length;
    return {
      ok: true,
      message: rotate === "true" ? `New ${kind} key issued; ${revoked} old ${kind} key${revoked === 1 ? "" : "s"} revoked.` : `New ${kind} key issued.`,
      data: issued,
    };
  } catch (err) {
    return failure(err);
  }
}

/** Sets (or replaces) a tenant's alert webhook; its signing secret comes back once, in the result. */
export async function setWebhookAction(_prev: FormResult<SetWebhookResponse>, form: FormData): Promise<FormResult<SetWebhookResponse>> {
  const values = { url: String(form.get("url") ?? "") };
  try {
    const client = await adminClient(form);
    const id = tenantId.parse(form.get("tenantId"));
    const parsed = parseWebhookUrl(form.get("url"));
    if ("error" in parsed) return { ok: false, message: "Nothing was saved: check the webhook URL.", fieldErrors: { url: parsed.error }, values };
    const set = await client.setWebhook(id, { url: parsed.url });
    revalidatePath(`/operator/tenants/${id}`);
    return { ok: true, message: `Alerts of ${id} now go to ${set.url}.`, data: set };
  } catch (err) {
    return failure(err, values);
  }
}

/** Sends a test event to the tenant's webhook; the result is that attempt. */
export async function testWebhookAction(_prev: FormResult<WebhookDelivery>, form: FormData): Promise<FormResult<WebhookDelivery>> {
  try {
    const client = await adminClient(form);
    const id = tenantId.parse(form.get("tenantId"));
    const attempt = await client.testWebhook(id);
    revalidatePath(`/operator/tenants/${id}`);
    const status = attempt.statusCode === null ? "no HTTP answer" : `HTTP ${attempt.statusCode}`;
    return attempt.outcome === "delivered"
      ? { ok: true, message: `Test event delivered: ${status} in ${Math.round(attempt.durationMs)} ms.`, data: attempt }
      : { ok: false, message: `Test event not delivered: ${status}${attempt.error ? ` (${attempt.error})` : ""}.`, data: attempt };
  } catch (err) {
    return failure(err);
  }
}

/** Removes a tenant's alert webhook: alerts are still recorded and listed, and no longer sent. */
export async function removeWebhookAction(_prev: FormResult, form: FormData): Promise<FormResult> {
  try {
    const client = await adminClient(form);
    const id = tenantId.parse(form.get("tenantId"));
    await client.deleteWebhook(id);
    revalidatePath(`/operator/tenants/${id}`);
    return { ok: true, message: "Webhook removed: alerts are still recorded here, and no longer sent." };
  } catch (err) {
    return failure(err);
  }
}

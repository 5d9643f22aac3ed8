"use server";
// Operator actions: create tenants, change their settings, issue and rotate keys. Each checks the
// CSRF token and that the session is an admin's before calling the collector's admin API.
import { revalidatePath } from "next/cache";
import { z } from "zod";
import { CollectorApiError } from "../../../lib/api/collector-error";
import type { IssuedKey, TenantRecord } from "../../../lib/api/types";
import { assertCsrf, CsrfError } from "../../../lib/security/csrf-server";
import { parseCreateTenantForm, parseUpdateTenantForm, type FormResult } from "../../../lib/format/tenant-forms";
import { clientFor, getSession } from "../../../lib/session/server-session";

async function adminClient(form: FormData) {
  await assertCsrf(form);
  const session = await getSession();
  if (!session || session.kind !== "admin") throw new CollectorApiError("forbidden", 403, "Only an operator signed in with the admin key can do this.");
  return clientFor(session);
}

function failure<T>(err: unknown): FormResult<T> {
  if (err instanceof CsrfError) return { ok: false, message: err.message };
  if (err instanceof CollectorApiError) {
    if (err.code === "conflict") return { ok: false, message: "A tenant with this id already exists.", fieldErrors: { id: "This id is taken" } };
    return { ok: false, message: err.message };
  }
  return { ok: false, message: "Something went wrong. Try again." };
}

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

/** Saves a tenant's name, tier, retention and budgets. */
export async function updateTenantAction(_prev: FormResult, form: FormData): Promise<FormResult> {
  try {
    const client = await adminClient(form);
    const id = z.string().min(1).max(63).parse(form.get("tenantId"));
    const parsed = parseUpdateTenantForm(form);
    if ("fieldErrors" in parsed) return { ok: false, message: "Check the highlighted fields.", fieldErrors: parsed.fieldErrors };
    await client.updateTenant(id, parsed.request);
    revalidatePath(`/operator/tenants/${id}`);
    revalidatePath("/operator");
    return { ok: true, message: "Settings saved." };
  } catch (err) {
    return failure(err);
  }
}

const keySchema = z.object({ tenantId: z.string().min(1).max(63), kind: z.enum(["ingest", "console"]), rotate: z.enum(["true", "false"]) });

/** Issues a key (rotating: revoking the tenant's other keys of that kind); the secret comes back once. */
export async function issueKeyAction(_prev: FormResult<{ key: IssuedKey; revokedKeyIds: string[] }>, form: FormData): Promise<FormResult<{ key: IssuedKey; revokedKeyIds: string[] }>> {
  try {
    const client = await adminClient(form);
    const parsed = keySchema.safeParse({ tenantId: form.get("tenantId"), kind: form.get("kind"), rotate: form.get("rotate") ?? "true" });
    if (!parsed.success) return { ok: false, message: "The key request was malformed: kind must be ingest or console." };
    const { tenantId, kind, rotate } = parsed.data;
    const issued = await client.issueKey(tenantId, { kind, rotate: rotate === "true" });
    revalidatePath(`/operator/tenants/${tenantId}`);
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

import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { QueryApiClient, QueryApiError } from "@troupe/contract/query-api";

/** How a demo tenant behaves. */
export type DemoRole = "quiet" | "noisy" | "budget";

/** One demo tenant as provisioned in the collector. */
export interface DemoTenant {
  readonly id: string;
  readonly name: string;
  readonly role: DemoRole;
  /** Console key: sign in to the console with it. */
  readonly consoleKey: string;
  /** The daily token budget the tenant is created with (the operator may change it later). */
  readonly dailyTokens: number | null;
  /** Quotas the tenant is created with (the operator may change them later). */
  readonly quotas?: { readonly maxInFlightTurns?: number; readonly maxQueuedMessages?: number };
}

/** What the demo keeps between runs (mode 0600: it holds keys). */
export interface DemoState {
  readonly pid: number;
  readonly ready: boolean;
  readonly serviceKey: string;
  readonly tenants: readonly DemoTenant[];
}

/**
 * The demo tenants: one quiet, one noisy, one that runs into its token budget. Their budgets and
 * quotas are set in the collector's tenant registry when the tenant is created, and only then: from
 * there on the registry is theirs to change (the console, `troupe tenants set`), and the demo's
 * runtime follows it like any runtime.
 */
export const DEMO_TENANTS: ReadonlyArray<Omit<DemoTenant, "consoleKey">> = [
  { id: "acme", name: "Acme Corp (quiet)", role: "quiet", dailyTokens: null },
  { id: "globex", name: "Globex (noisy neighbour)", role: "noisy", dailyTokens: null, quotas: { maxQueuedMessages: 200, maxInFlightTurns: 32 } },
  { id: "initech", name: "Initech (token budget)", role: "budget", dailyTokens: 40_000 },
];

/** Whether a key is still accepted by an endpoint it may use (a refusal is "no"; no answer at all is an error). */
async function stillWorks(check: Promise<unknown>): Promise<boolean> {
  try {
    await check;
    return true;
  } catch (err) {
    if (err instanceof QueryApiError && err.status > 0) return false;
    throw err;
  }
}

/** Whether an ingest key is still accepted: an empty OTLP export (not part of the query API, so a plain fetch). */
async function ingestKeyWorks(collectorUrl: string, key: string): Promise<boolean> {
  try {
    const res = await fetch(`${collectorUrl.replace(/\/+$/, "")}/v1/traces`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ resourceSpans: [] }),
      signal: AbortSignal.timeout(15_000),
    });
    await res.arrayBuffer();
    return res.status === 200;
  } catch (err) {
    throw new Error(`cannot reach the collector at ${collectorUrl}: ${(err as Error).message}`);
  }
}

/** A failed admin call, worded as the demo reports it: the request, and the collector's answer or that none came. */
function provisioningError(err: unknown, collectorUrl: string): unknown {
  if (!(err instanceof QueryApiError)) return err;
  if (err.status === 0) return new Error(`cannot reach the collector at ${collectorUrl}: ${err.message}`);
  return new Error(`${err.method} ${err.path} answered ${err.status}: ${err.answerText?.slice(0, 200) ?? err.message}`);
}

async function readState(file: string): Promise<Partial<DemoState>> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as Partial<DemoState>;
  } catch {
    return {};
  }
}

/** Writes the demo state atomically (temp file + rename), readable only by its owner. */
export async function writeDemoState(file: string, state: DemoState): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(state, null, 2) + "\n", { mode: 0o600 });
  await rename(tmp, file);
}

/**
 * Makes sure the demo tenants exist in the collector (created with their budgets and quotas; an
 * existing tenant's settings are left as the operator made them), and that the demo holds working
 * keys: a console key per tenant and one service key for the runtime. Keys kept from
 * an earlier run are reused while they still work (secrets cannot be read back from the collector,
 * which stores only their hashes); otherwise new ones are issued and the old ones revoked.
 */
export async function provisionDemoTenants(collectorUrl: string, adminKey: string, stateFile: string): Promise<{ serviceKey: string; tenants: DemoTenant[] }> {
  const api = new QueryApiClient({ baseUrl: collectorUrl, key: adminKey });
  const saved = await readState(stateFile);
  try {
    const tenants: DemoTenant[] = [];
    for (const spec of DEMO_TENANTS) {
      let consoleKey: string | undefined;
      const existing = await api.adminTenant(spec.id).catch((err: unknown) => {
        if (err instanceof QueryApiError && err.code === "not_found") return null;
        if (err instanceof QueryApiError && err.status > 0) throw new Error(`${err.method} ${err.path} answered ${err.status}: check the admin key`);
        throw err;
      });
      if (existing === null) {
        const created = await api.createTenant({ id: spec.id, name: spec.name, budgets: { dailyTokens: spec.dailyTokens }, ...(spec.quotas ? { quotas: spec.quotas } : {}), keys: ["console"] });
        consoleKey = created.keys.find((k) => k.kind === "console")?.secret;
      } else {
        const previous = saved.tenants?.find((t) => t.id === spec.id)?.consoleKey;
        if (previous && (await stillWorks(new QueryApiClient({ baseUrl: collectorUrl, key: previous }).traces({ limit: 1 })))) consoleKey = previous;
        else consoleKey = (await api.issueKey(spec.id, { kind: "console", rotate: true })).key.secret;
      }
      if (!consoleKey) throw new Error(`the collector issued no console key for ${spec.id}`);
      tenants.push({ ...spec, consoleKey });
    }

    let serviceKey = saved.serviceKey;
    if (!serviceKey || !(await ingestKeyWorks(collectorUrl, serviceKey))) {
      serviceKey = (await api.createServiceKey({ allowedTenants: DEMO_TENANTS.map((t) => t.id) })).key.secret;
    }
    return { serviceKey, tenants };
  } catch (err) {
    throw provisioningError(err, collectorUrl);
  }
}

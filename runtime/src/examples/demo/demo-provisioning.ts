import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { BudgetLedger } from "../../llm/budget-ledger.js";

/** How a demo tenant behaves. */
export type DemoRole = "quiet" | "noisy" | "budget";

/** One demo tenant as provisioned in the collector. */
export interface DemoTenant {
  readonly id: string;
  readonly name: string;
  readonly role: DemoRole;
  /** Console key: sign in to the console with it. */
  readonly consoleKey: string;
  /** Daily token budget, when the tenant has one. */
  readonly dailyTokens: number | null;
}

/** What the demo keeps between runs (mode 0600: it holds keys). */
export interface DemoState {
  readonly pid: number;
  readonly ready: boolean;
  readonly serviceKey: string;
  readonly tenants: readonly DemoTenant[];
}

/** The demo tenants: one quiet, one noisy, one that runs into its token budget. */
export const DEMO_TENANTS: ReadonlyArray<Omit<DemoTenant, "consoleKey">> = [
  { id: "acme", name: "Acme Corp (quiet)", role: "quiet", dailyTokens: null },
  { id: "globex", name: "Globex (noisy neighbour)", role: "noisy", dailyTokens: null },
  { id: "initech", name: "Initech (token budget)", role: "budget", dailyTokens: 40_000 },
];

class AdminApi {
  constructor(
    private readonly baseUrl: string,
    private readonly adminKey: string,
  ) {}

  async call(method: string, path: string, body?: unknown, key = this.adminKey): Promise<{ status: number; json: unknown }> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      throw new Error(`cannot reach the collector at ${this.baseUrl}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, json };
  }

  async expect(method: string, path: string, body: unknown, ok: number[]): Promise<unknown> {
    const { status, json } = await this.call(method, path, body);
    if (!ok.includes(status)) {
      const message = (json as { error?: { message?: string } })?.error?.message ?? JSON.stringify(json).slice(0, 200);
      throw new Error(`${method} ${path} answered ${status}: ${message}`);
    }
    return json;
  }
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
 * Makes sure the demo tenants exist in the collector with the right budgets, and that the demo holds
 * working keys: a console key per tenant and one service ingest key for the runtime. Keys kept from
 * an earlier run are reused while they still work (secrets cannot be read back from the collector,
 * which stores only their hashes); otherwise new ones are issued and the old ones revoked.
 */
export async function provisionDemoTenants(collectorUrl: string, adminKey: string, stateFile: string): Promise<{ serviceKey: string; tenants: DemoTenant[] }> {
  const api = new AdminApi(collectorUrl, adminKey);
  const saved = await readState(stateFile);
  const tenants: DemoTenant[] = [];
  for (const spec of DEMO_TENANTS) {
    const path = `/api/v1/admin/tenants/${spec.id}`;
    const budgets = { dailyTokens: spec.dailyTokens };
    let consoleKey: string | undefined;
    const existing = await api.call("GET", path);
    if (existing.status === 404) {
      const created = (await api.expect("POST", "/api/v1/admin/tenants", { id: spec.id, name: spec.name, budgets, keys: ["console"] }, [201])) as {
        keys: Array<{ kind: string; secret: string }>;
      };
      consoleKey = created.keys.find((k) => k.kind === "console")?.secret;
    } else if (existing.status !== 200) {
      throw new Error(`GET ${path} answered ${existing.status}: check the admin key`);
    } else {
      await api.expect("PUT", path, { name: spec.name, budgets }, [200]);
      const previous = saved.tenants?.find((t) => t.id === spec.id)?.consoleKey;
      if (previous && (await api.call("GET", "/api/v1/traces?limit=1", undefined, previous)).status === 200) consoleKey = previous;
      else {
        const issued = (await api.expect("POST", `${path}/keys`, { kind: "console", rotate: true }, [201])) as { key: { secret: string } };
        consoleKey = issued.key.secret;
      }
    }
    if (!consoleKey) throw new Error(`the collector issued no console key for ${spec.id}`);
    tenants.push({ ...spec, consoleKey });
  }

  let serviceKey = saved.serviceKey;
  const probe = serviceKey ? await api.call("POST", "/v1/traces", { resourceSpans: [] }, serviceKey) : undefined;
  if (!serviceKey || probe?.status !== 200) {
    const issued = (await api.expect("POST", "/api/v1/admin/service-keys", { allowedTenants: DEMO_TENANTS.map((t) => t.id) }, [201])) as {
      key: { secret: string };
    };
    serviceKey = issued.key.secret;
  }
  return { serviceKey, tenants };
}

/**
 * Charges each budgeted tenant's ledger with its tokens and cost of today (UTC) as the collector has
 * stored them: the usage API's totals, summed from usage records (one per LLM call attempt, exact
 * whatever the trace sampling; refused attempts carry no tokens). The demo's ledger lives in its
 * process, so without this a restarted demo would give a tenant at its budget a fresh day. A tenant
 * whose usage cannot be read starts from zero, logged.
 */
export async function chargeUsageSoFarToday(
  ledger: BudgetLedger,
  collectorUrl: string,
  adminKey: string,
  tenants: readonly DemoTenant[],
  log: (line: string) => void,
  nowMs: number = Date.now(),
): Promise<void> {
  const api = new AdminApi(collectorUrl, adminKey);
  const range = `from=${encodeURIComponent(new Date(nowMs - (nowMs % 86_400_000)).toISOString())}&to=${encodeURIComponent(new Date(nowMs).toISOString())}`;
  for (const t of tenants) {
    if (t.dailyTokens === null) continue;
    try {
      const { totals } = (await api.expect("GET", `/api/v1/usage?tenant=${encodeURIComponent(t.id)}&${range}`, undefined, [200])) as {
        totals: { inputTokens: number; outputTokens: number; costUsd: number };
      };
      const used = { tokens: totals.inputTokens + totals.outputTokens, costUsd: totals.costUsd };
      if (used.tokens === 0 && used.costUsd === 0) continue;
      await ledger.reserve(t.id, used, {}, nowMs);
      log(`${t.id}: ${used.tokens} of its ${t.dailyTokens} daily tokens already used today (UTC), as the collector stored them`);
    } catch (err) {
      log(`${t.id}: could not read today's usage from the collector (${err instanceof Error ? err.message : String(err)}); its budget starts from zero`);
    }
  }
}

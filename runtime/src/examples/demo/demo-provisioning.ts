import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

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
 * Makes sure the demo tenants exist in the collector (created with their budgets and quotas; an
 * existing tenant's settings are left as the operator made them), and that the demo holds working
 * keys: a console key per tenant and one service key for the runtime. Keys kept from
 * an earlier run are reused while they still work (secrets cannot be read back from the collector,
 * which stores only their hashes); otherwise new ones are issued and the old ones revoked.
 */
export async function provisionDemoTenants(collectorUrl: string, adminKey: string, stateFile: string): Promise<{ serviceKey: string; tenants: DemoTenant[] }> {
  const api = new AdminApi(collectorUrl, adminKey);
  const saved = await readState(stateFile);
  const tenants: DemoTenant[] = [];
  for (const spec of DEMO_TENANTS) {
    const path = `/api/v1/admin/tenants/${spec.id}`;
    let consoleKey: string | undefined;
    const existing = await api.call("GET", path);
    if (existing.status === 404) {
      const settings = { budgets: { dailyTokens: spec.dailyTokens }, ...(spec.quotas ? { quotas: spec.quotas } : {}) };
      const created = (await api.expect("POST", "/api/v1/admin/tenants", { id: spec.id, name: spec.name, ...settings, keys: ["console"] }, [201])) as {
        keys: Array<{ kind: string; secret: string }>;
      };
      consoleKey = created.keys.find((k) => k.kind === "console")?.secret;
    } else if (existing.status !== 200) {
      throw new Error(`GET ${path} answered ${existing.status}: check the admin key`);
    } else {
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

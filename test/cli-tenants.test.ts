// `troupe tenants ...` as an operator runs it: the real CLI process against a real collector (chDB)
// on loopback, through the admin API. Secrets are printed once and work; bad input is named.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCollectorConfig, startCollector, type RunningCollector } from "@troupe/collector";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTroupe, type CliResult } from "./support/collector-process.js";

const ADMIN_KEY = `trp_admin_${randomBytes(18).toString("base64url")}`;
let dir: string;
let collector: RunningCollector;

/** Runs the CLI with the collector's URL and the admin key in its environment (as after `troupe start`). */
function troupe(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runTroupe(args, dir, { TROUPE_COLLECTOR_URL: collector.url, TROUPE_ADMIN_KEY: ADMIN_KEY, TROUPE_DATA_DIR: join(dir, "data"), ...env });
}

async function traces(key: string): Promise<number> {
  return (await fetch(`${collector.url}/api/v1/traces`, { headers: { authorization: `Bearer ${key}` } })).status;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-cli-"));
  collector = await startCollector({ ...loadCollectorConfig({ TROUPE_DATA_DIR: join(dir, "data"), TROUPE_ADMIN_KEY: ADMIN_KEY }), port: 0, host: "127.0.0.1" });
}, 60_000);

afterAll(async () => {
  await collector?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("troupe tenants", () => {
  it("creates a tenant, prints its keys once, lists it, rotates a key and changes budgets and retention", async () => {
    const created = await troupe(["tenants", "create", "acme", "--name", "Acme Corp", "--tier", "worker", "--retention-days", "14"]);
    expect(created.status, created.stderr).toBe(0);
    expect(created.stdout).toContain("created tenant acme (tier worker, retention 14 days)");
    expect(created.stdout).toContain("These secrets are shown once");
    const consoleKey = /console\s+(trp_\S+)/.exec(created.stdout)?.[1];
    const ingestKey = /ingest\s+(trp_\S+)/.exec(created.stdout)?.[1];
    expect(consoleKey).toBeDefined();
    expect(ingestKey).toBeDefined();
    expect(await traces(consoleKey!)).toBe(200);

    const budget = await troupe(["tenants", "set-budget", "acme", "--daily-tokens", "5000", "--monthly-cost-usd", "12.5"]);
    expect(budget.status, budget.stderr).toBe(0);
    expect(budget.stdout).toContain("budgets of acme: daily tokens 5000, monthly tokens -, daily USD -, monthly USD 12.5");
    const retention = await troupe(["tenants", "set-retention", "acme", "30"]);
    expect(retention.status, retention.stderr).toBe(0);
    expect(retention.stdout).toContain("acme keeps spans for 30 days");

    const list = await troupe(["tenants", "list"]);
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/TENANT\s+TIER\s+RETENTION\s+DAILY TOKENS\s+MONTHLY USD\s+BUDGET\s+COST \(24H\)/);
    expect(list.stdout).toMatch(/^acme\s+worker\s+30d\s+5000\s+12\.5\s+ok\s+0\.0000$/m);
    const json = await troupe(["tenants", "list", "--json"]);
    const [tenant] = JSON.parse(json.stdout) as Array<{ tenant: { id: string; name: string; budgets: Record<string, number | null> } }>;
    expect(tenant!.tenant).toMatchObject({ id: "acme", name: "Acme Corp", budgets: { dailyTokens: 5000, monthlyCostUsd: 12.5 } });
    // Secrets are never listed.
    expect(json.stdout).not.toContain(consoleKey!);
    expect(json.stdout).not.toContain(ingestKey!);

    // 0 removes a budget.
    const cleared = await troupe(["tenants", "set-budget", "acme", "--daily-tokens", "0"]);
    expect(cleared.stdout).toContain("daily tokens -,");

    const rotated = await troupe(["tenants", "rotate-key", "acme", "--kind", "console"]);
    expect(rotated.status, rotated.stderr).toBe(0);
    expect(rotated.stdout).toContain("new console key for acme; revoked 1 old key(s)");
    const newKey = /console\s+(trp_\S+)/.exec(rotated.stdout)?.[1];
    expect(await traces(newKey!)).toBe(200);
    expect(await traces(consoleKey!)).toBe(401);
  });

  it("names the problem: a tier that does not exist, bad numbers, an existing or unknown tenant, a wrong key, no collector", async () => {
    const tier = await troupe(["tenants", "create", "globex", "--tier", "standard"]);
    expect(tier.status).toBe(2);
    expect(tier.stderr).toContain("Allowed choices are shared, worker, process");

    const days = await troupe(["tenants", "set-retention", "acme", "two"]);
    expect(days.status).toBe(2);
    expect(days.stderr).toContain('<days> must be a non-negative number; got "two"');
    const noFlags = await troupe(["tenants", "set-budget", "acme"]);
    expect(noFlags.status).toBe(2);
    expect(noFlags.stderr).toContain("give at least one of --daily-tokens");

    await troupe(["tenants", "create", "initech"]);
    const again = await troupe(["tenants", "create", "initech"]);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/HTTP 409: .*initech/);
    const unknown = await troupe(["tenants", "set-retention", "nobody", "7"]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/HTTP 404: .*nobody/);

    const wrongKey = await troupe(["tenants", "list"], { TROUPE_ADMIN_KEY: `trp_admin_${randomBytes(18).toString("base64url")}` });
    expect(wrongKey.status).toBe(1);
    expect(wrongKey.stderr).toContain("HTTP 401");
    expect(wrongKey.stderr).not.toContain(ADMIN_KEY);

    const down = await troupe(["tenants", "list", "--collector-url", "http://127.0.0.1:1"]);
    expect(down.status).toBe(1);
    expect(down.stderr).toContain("cannot reach the collector at http://127.0.0.1:1");
  });
});

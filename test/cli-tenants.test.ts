// `troupe tenants ...` as an operator runs it: the real CLI process against a real collector (chDB)
// on loopback, through the admin API. Secrets are printed once and work; bad input is named; the
// settings `set` writes are what runtimes read, and `show` reports the runtimes that checked in.
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCollectorConfig, startCollector, type RunningCollector } from "@troupe/collector";
import { USAGE_ATTR, USAGE_EVENT_NAME, USAGE_LOGGER_NAME } from "@troupe/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTroupe, type CliResult } from "./support/collector-process.js";

const ADMIN_KEY = `trp_admin_${randomBytes(18).toString("base64url")}`;
let dir: string;
let collector: RunningCollector;

/** Runs the CLI with the collector's URL and the admin key in its environment (as after `troupe start`). */
function troupe(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runTroupe(args, dir, { TROUPE_COLLECTOR_URL: collector.url, TROUPE_ADMIN_KEY: ADMIN_KEY, TROUPE_DATA_DIR: join(dir, "data"), ...env });
}

/** A webhook receiver on loopback: records each POST; answers `status`. */
interface Receiver {
  url: string;
  status: number;
  posts: Array<{ headers: Record<string, string | string[] | undefined>; body: string }>;
  server: Server;
}

async function startReceiver(): Promise<Receiver> {
  const receiver: Receiver = { url: "", status: 204, posts: [], server: undefined as unknown as Server };
  receiver.server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    receiver.posts.push({ headers: req.headers, body });
    res.writeHead(receiver.status).end();
  });
  await new Promise<void>((r) => receiver.server.listen(0, "127.0.0.1", r));
  receiver.url = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}/hook`;
  return receiver;
}

async function admin<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${collector.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" } });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

/** A runtime's check-in: a settings read with a service key, naming the runtime and the version it applied. */
async function checkIn(serviceKey: string, runtimeId: string, name: string, appliedVersion: number): Promise<void> {
  const res = await fetch(`${collector.url}/api/v1/control/settings`, {
    headers: { authorization: `Bearer ${serviceKey}`, "troupe-runtime-id": runtimeId, "troupe-runtime-name": name, "troupe-applied-version": String(appliedVersion) },
  });
  expect(res.status, await res.clone().text()).toBe(200);
  await res.body?.cancel();
}

/** One usage record of `tokens` input tokens, POSTed as OTLP/JSON logs with the tenant's ingest key, as a runtime exports it. */
async function exportUsage(ingestKey: string, tenant: string, tokens: number): Promise<void> {
  const attr = (key: string, value: string | number) => ({ key, value: typeof value === "string" ? { stringValue: value } : { intValue: String(value) } });
  const record = {
    timeUnixNano: `${BigInt(Date.now()) * 1_000_000n}`,
    eventName: USAGE_EVENT_NAME,
    attributes: [
      attr(USAGE_ATTR.id, randomUUID()), attr(USAGE_ATTR.tenantId, tenant), attr(USAGE_ATTR.provider, "openai"), attr(USAGE_ATTR.model, "gpt-4o-mini"),
      attr(USAGE_ATTR.outcome, "ok"), attr(USAGE_ATTR.inputTokens, tokens), attr(USAGE_ATTR.outputTokens, 0), attr(USAGE_ATTR.costUsd, 0),
    ],
  };
  const body = { resourceLogs: [{ resource: { attributes: [attr("service.name", "shop-api")] }, scopeLogs: [{ scope: { name: USAGE_LOGGER_NAME }, logRecords: [record] }] }] };
  const res = await fetch(`${collector.url}/v1/logs`, { method: "POST", headers: { authorization: `Bearer ${ingestKey}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(res.status, await res.text()).toBe(200);
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

  it("set changes every kind of setting (none clears one), prints the settings and version, and the admin API has them", async () => {
    const created = await troupe(["tenants", "create", "hooli"]);
    expect(created.status, created.stderr).toBe(0);
    const before = (await admin<{ tenant: { settingsVersion: number } }>("/api/v1/admin/tenants/hooli")).tenant.settingsVersion;

    const set = await troupe([
      "tenants", "set", "hooli", "--tier", "process", "--retention-days", "21", "--daily-tokens", "50000", "--monthly-cost-usd", "40",
      "--max-in-flight-turns", "4", "--max-queued-messages", "200", "--messages-per-second", "12.5", "--turn-timeout-ms", "30000", "--weight", "2",
      "--requests-per-minute", "60", "--tokens-per-minute", "90000", "--sampling-ratio", "0.1", "--alert-thresholds", "0.9,0.5",
    ]);
    expect(set.status, set.stderr).toBe(0);
    const version = Number(/settings of hooli \(version (\d+)\):/.exec(set.stdout)?.[1]);
    expect(version).toBeGreaterThan(before);
    expect(set.stdout).toMatch(/^ {2}tier\s+process$/m);
    expect(set.stdout).toMatch(/^ {2}daily-tokens\s+50000$/m);
    expect(set.stdout).toMatch(/^ {2}monthly-tokens\s+unlimited$/m);
    expect(set.stdout).toMatch(/^ {2}weight\s+2$/m);
    expect(set.stdout).toMatch(/^ {2}sampling-ratio\s+0\.1$/m);
    expect(set.stdout).toMatch(/^ {2}alert-thresholds\s+50%, 90%$/m);
    const { tenant } = await admin<{ tenant: Record<string, unknown> }>("/api/v1/admin/tenants/hooli");
    expect(tenant).toMatchObject({
      tier: "process",
      retentionDays: 21,
      settingsVersion: version,
      budgets: { dailyTokens: 50000, monthlyTokens: null, dailyCostUsd: null, monthlyCostUsd: 40 },
      quotas: { maxInFlightTurns: 4, maxQueuedMessages: 200, messagesPerSecond: 12.5, turnTimeoutMs: 30000, weight: 2 },
      rateLimits: { requestsPerMinute: 60, tokensPerMinute: 90000 },
      samplingRatio: 0.1,
      alerts: { thresholds: [0.5, 0.9] },
    });

    // none clears a field; the flags not given stay as they were.
    const cleared = await troupe(["tenants", "set", "hooli", "--weight", "none", "--daily-tokens", "none", "--sampling-ratio", "none", "--json"]);
    expect(cleared.status, cleared.stderr).toBe(0);
    const json = JSON.parse(cleared.stdout) as { settingsVersion: number; quotas: Record<string, unknown>; budgets: Record<string, unknown>; samplingRatio: unknown };
    expect(json.settingsVersion).toBeGreaterThan(version);
    expect(json.quotas).toMatchObject({ weight: null, maxInFlightTurns: 4 });
    expect(json.budgets).toMatchObject({ dailyTokens: null, monthlyCostUsd: 40 });
    expect(json.samplingRatio).toBeNull();
    const text = await troupe(["tenants", "set", "hooli", "--max-queued-messages", "300"]);
    expect(text.stdout).toMatch(/^ {2}weight\s+not set \(the runtime's own option\)$/m);
    expect(text.stdout).toMatch(/^ {2}daily-tokens\s+unlimited$/m);

    // The old commands still work, now through the same path.
    const budget = await troupe(["tenants", "set-budget", "hooli", "--daily-tokens", "7000", "--json"]);
    expect(JSON.parse(budget.stdout)).toMatchObject({ budgets: { dailyTokens: 7000 } });
  });

  it("set names the flag of a bad value and changes nothing", async () => {
    await troupe(["tenants", "create", "piedpiper"]);
    const before = await admin<{ tenant: unknown }>("/api/v1/admin/tenants/piedpiper");
    const cases: Array<[string[], string]> = [
      [["--weight", "0"], '--weight takes a number greater than 0 and at most 1000, or none to clear it; got "0"'],
      [["--sampling-ratio", "1.5"], '--sampling-ratio takes a number at least 0 and at most 1, or none to clear it; got "1.5"'],
      [["--max-in-flight-turns", "2.5"], '--max-in-flight-turns takes a whole number at least 1 and at most 1000000000, or none to clear it; got "2.5"'],
      [["--daily-tokens", "lots"], '--daily-tokens takes a whole number at least 0, or none to clear it; got "lots"'],
      [["--retention-days", "none"], '--retention-days takes a whole number at least 1 and at most 3650; got "none"'],
      [["--alert-thresholds", "80,95"], "--alert-thresholds takes 1 to 5 distinct fractions"],
      [[], "give at least one setting to change"],
    ];
    for (const [flags, message] of cases) {
      const r = await troupe(["tenants", "set", "piedpiper", ...flags]);
      expect(r.status, flags.join(" ")).toBe(2);
      expect(r.stderr).toContain(message);
    }
    const tier = await troupe(["tenants", "set", "piedpiper", "--tier", "gold"]);
    expect(tier.status).toBe(2);
    expect(tier.stderr).toContain("Allowed choices are shared, worker, process");
    expect(await admin("/api/v1/admin/tenants/piedpiper")).toEqual(before);
    const unknown = await troupe(["tenants", "set", "nobody", "--weight", "1"]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/HTTP 404: .*nobody/);
  });

  it("show lists settings, budget, the runtimes that checked in (up to date, then behind) and recent alerts", async () => {
    const created = await troupe(["tenants", "create", "aviato"]);
    const ingestKey = /ingest\s+(trp_\S+)/.exec(created.stdout)![1]!;
    await troupe(["tenants", "set", "aviato", "--daily-tokens", "1000"]);
    const empty = await troupe(["tenants", "show", "aviato"]);
    expect(empty.status, empty.stderr).toBe(0);
    expect(empty.stdout).toMatch(/^aviato \(aviato\): settings version \d+/);
    expect(empty.stdout).toMatch(/^ {2}daily-tokens\s+1000$/m);
    expect(empty.stdout).toMatch(/^budget: ok$/m);
    expect(empty.stdout).toMatch(/^ {2}tokens today\s+0 \/ 1,000 \(0%\)$/m);
    expect(empty.stdout).toMatch(/^runtimes \(checked in within 24 h\): 0; current settings version \d+$/m);
    expect(empty.stdout).toContain("none: a runtime follows this tenant when started with followControlPlane");
    expect(empty.stdout).toContain("webhook: none");
    expect(empty.stdout).toContain("recent alerts: none");

    const { key } = await admin<{ key: { secret: string } }>("/api/v1/admin/service-keys", { method: "POST", body: JSON.stringify({ allowedTenants: ["aviato"] }) });
    const { tenant } = await admin<{ tenant: { settingsVersion: number } }>("/api/v1/admin/tenants/aviato");
    await checkIn(key.secret, "rt-aviato-0001-long-runtime-id", "shop-api@host-1", tenant.settingsVersion);
    const current = await troupe(["tenants", "show", "aviato"]);
    expect(current.stdout).toContain(`runtimes (checked in within 24 h): 1; current settings version ${tenant.settingsVersion}`);
    expect(current.stdout).toMatch(/RUNTIME\s+ID\s+APPLIED VERSION\s+STATE\s+LAST CHECK-IN/);
    expect(current.stdout).toMatch(new RegExp(`^shop-api@host-1\\s+rt-aviato-0001-long-runtime-id\\s+${tenant.settingsVersion}\\s+up to date\\s+(just now|\\d+ s ago) \\(\\d{4}-`, "m"));

    await troupe(["tenants", "set", "aviato", "--weight", "3"]);
    const behind = await troupe(["tenants", "show", "aviato"]);
    expect(behind.stdout).toMatch(new RegExp(`^shop-api@host-1\\s+\\S+\\s+${tenant.settingsVersion}\\s+behind\\s`, "m"));
    const json = JSON.parse((await troupe(["tenants", "show", "aviato", "--json"])).stdout) as { tenant: { id: string }; budget: { state: string }; runtimes: { runtimes: Array<{ runtimeId: string; appliedVersion: number }>; settingsVersion: number }; alerts: { alerts: unknown[] } };
    expect(json.tenant.id).toBe("aviato");
    expect(json.budget.state).toBe("ok");
    expect(json.runtimes.runtimes[0]!.runtimeId).toBe("rt-aviato-0001-long-runtime-id");
    expect(json.runtimes.runtimes[0]!.appliedVersion).toBeLessThan(json.runtimes.settingsVersion);
    expect(json.alerts.alerts).toEqual([]);

    // 950 of 1,000 tokens today: alerts at 80% and 95%, listed newest first.
    await exportUsage(ingestKey, "aviato", 950);
    await expect.poll(async () => (await troupe(["tenants", "show", "aviato"])).stdout, { timeout: 30_000, interval: 500 }).toContain("recent alerts: 2 of 2");
    const shown = (await troupe(["tenants", "show", "aviato"])).stdout;
    expect(shown).toMatch(/^budget: near$/m);
    expect(shown).toMatch(/^ {2}tokens today\s+950 \/ 1,000 \(95%\)$/m);
    expect(shown).toMatch(/RAISED\s+KIND\s+WINDOW\s+METRIC\s+THRESHOLD\s+USED\/LIMIT\s+DELIVERY/);
    const day = new Date().toISOString().slice(0, 10);
    expect(shown).toMatch(new RegExp(`^\\d{4}-\\S+\\s+threshold\\s+day ${day}\\s+tokens\\s+95%\\s+950/1000\\s+none$`, "m"));
    expect(shown).toMatch(new RegExp(`^\\d{4}-\\S+\\s+threshold\\s+day ${day}\\s+tokens\\s+80%\\s+950/1000\\s+none$`, "m"));
  });

  it("webhook sets a URL (secret shown once, signs events), sends a test event, reports a failed one, and removes it", async () => {
    await troupe(["tenants", "create", "raviga"]);
    const receiver = await startReceiver();
    try {
      const both = await troupe(["tenants", "webhook", "raviga", "--url", receiver.url, "--test"]);
      expect(both.status).toBe(2);
      expect(both.stderr).toContain("give exactly one of --url <url>, --remove or --test (got --url and --test)");
      const badUrl = await troupe(["tenants", "webhook", "raviga", "--url", "ftp://example.com/x"]);
      expect(badUrl.status).toBe(1);
      expect(badUrl.stderr).toMatch(/--url: the collector refused it: .*url/);

      const set = await troupe(["tenants", "webhook", "raviga", "--url", receiver.url]);
      expect(set.status, set.stderr).toBe(0);
      expect(set.stdout).toContain(`alerts of raviga now go to ${receiver.url}`);
      const secret = /signing secret: (whsec_\S+)/.exec(set.stdout)?.[1];
      expect(secret).toBeDefined();
      expect(set.stdout).toContain("This secret is shown once");

      const test = await troupe(["tenants", "webhook", "raviga", "--test"]);
      expect(test.status, test.stderr).toBe(0);
      expect(test.stdout).toMatch(new RegExp(`^test event delivered to ${receiver.url} \\(HTTP 204, \\d+ ms\\)$`, "m"));
      expect(receiver.posts).toHaveLength(1);
      const post = receiver.posts[0]!;
      expect(JSON.parse(post.body)).toMatchObject({ type: "test", tenantId: "raviga" });
      const [, t, v1] = /^t=(\d+),v1=([0-9a-f]+)$/.exec(String(post.headers["troupe-signature"]))!;
      expect(v1).toBe(createHmac("sha256", secret!).update(`${t}.${post.body}`).digest("hex"));

      receiver.status = 500;
      const failed = await troupe(["tenants", "webhook", "raviga", "--test"]);
      expect(failed.status).toBe(1);
      expect(failed.stderr).toContain(`test event to ${receiver.url} not delivered (HTTP 500,`);

      const show = await troupe(["tenants", "show", "raviga"]);
      expect(show.stdout).toContain(`webhook: ${receiver.url}`);
      expect(show.stdout).not.toContain(secret!);

      const removed = await troupe(["tenants", "webhook", "raviga", "--remove"]);
      expect(removed.status, removed.stderr).toBe(0);
      expect(removed.stdout).toContain("webhook of raviga removed");
      expect((await troupe(["tenants", "show", "raviga"])).stdout).toContain("webhook: none");
      const none = await troupe(["tenants", "webhook", "raviga", "--test"]);
      expect(none.status).toBe(1);
      expect(none.stderr).toMatch(/HTTP 404: .*no webhook/);
    } finally {
      await new Promise((r) => receiver.server.close(r));
    }
  });

  it("documents every settings flag and what none means in --help", async () => {
    const help = await troupe(["tenants", "set", "--help"]);
    expect(help.status).toBe(0);
    for (const flag of ["--tier", "--retention-days", "--daily-tokens", "--monthly-tokens", "--daily-cost-usd", "--monthly-cost-usd", "--max-in-flight-turns", "--max-queued-messages", "--messages-per-second", "--turn-timeout-ms", "--weight", "--requests-per-minute", "--tokens-per-minute", "--sampling-ratio", "--alert-thresholds", "--json"]) {
      expect(help.stdout, flag).toContain(flag);
    }
    expect(help.stdout).toContain("The value none clears a field");
    for (const sub of ["show", "webhook"]) expect((await troupe(["tenants", sub, "--help"])).stdout).toContain("--json");
  });
});

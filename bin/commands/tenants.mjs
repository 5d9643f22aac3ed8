// `troupe tenants ...`: tenant administration through the collector's admin API. The collector's
// tenant registry holds every tenant's settings; runtimes following it apply changes within seconds
// and check in, which `show` reports.
import { ago, ApiClient, ApiError, numberFlag, settingFlag, table } from "../lib/admin-client.mjs";
import { UsageError } from "../lib/config.mjs";

const budget = (n) => (n === null || n === undefined ? "-" : String(n));
const printJson = (value) => console.log(JSON.stringify(value, null, 2));

/**
 * Every setting `tenants set` takes: its flag, where it goes in the update request, its bounds (those
 * the collector enforces, runtime/src/control/control-wire.ts) and what leaving it unset means.
 */
const SETTINGS = [
  { flag: "--retention-days", option: "retentionDays", path: ["retentionDays"], rule: { whole: true, min: 1, max: 3650, nullable: false } },
  { flag: "--daily-tokens", option: "dailyTokens", path: ["budgets", "dailyTokens"], rule: { whole: true, min: 0 }, unset: "unlimited" },
  { flag: "--monthly-tokens", option: "monthlyTokens", path: ["budgets", "monthlyTokens"], rule: { whole: true, min: 0 }, unset: "unlimited" },
  { flag: "--daily-cost-usd", option: "dailyCostUsd", path: ["budgets", "dailyCostUsd"], rule: { min: 0 }, unset: "unlimited" },
  { flag: "--monthly-cost-usd", option: "monthlyCostUsd", path: ["budgets", "monthlyCostUsd"], rule: { min: 0 }, unset: "unlimited" },
  { flag: "--max-in-flight-turns", option: "maxInFlightTurns", path: ["quotas", "maxInFlightTurns"], rule: { whole: true, min: 1, max: 1e9 } },
  { flag: "--max-queued-messages", option: "maxQueuedMessages", path: ["quotas", "maxQueuedMessages"], rule: { whole: true, min: 1, max: 1e9 } },
  { flag: "--messages-per-second", option: "messagesPerSecond", path: ["quotas", "messagesPerSecond"], rule: { min: 0, exclusive: true, max: 1e6 } },
  { flag: "--turn-timeout-ms", option: "turnTimeoutMs", path: ["quotas", "turnTimeoutMs"], rule: { whole: true, min: 1, max: 86_400_000 } },
  { flag: "--weight", option: "weight", path: ["quotas", "weight"], rule: { min: 0, exclusive: true, max: 1000 } },
  { flag: "--requests-per-minute", option: "requestsPerMinute", path: ["rateLimits", "requestsPerMinute"], rule: { min: 0, exclusive: true } },
  { flag: "--tokens-per-minute", option: "tokensPerMinute", path: ["rateLimits", "tokensPerMinute"], rule: { min: 0, exclusive: true } },
  { flag: "--sampling-ratio", option: "samplingRatio", path: ["samplingRatio"], rule: { min: 0, max: 1 } },
];

/** The flag behind a parameter the collector names in a refusal ("quotas.weight" → --weight). */
const FLAG_OF_PARAMETER = new Map([
  ...SETTINGS.map((s) => [s.path.join("."), s.flag]),
  ["tier", "--tier"],
  ["alerts", "--alert-thresholds"],
  ["alerts.thresholds", "--alert-thresholds"],
  ["url", "--url"],
]);

/** Sends an update; a refusal that names a parameter is reported against its flag. */
async function updateTenant(client, id, body) {
  try {
    return (await client.call((api) => api.updateTenant(id, body))).tenant;
  } catch (err) {
    throw withFlag(err);
  }
}

function withFlag(err) {
  if (!(err instanceof ApiError) || err.code !== "bad_request") return err;
  const parameter = /parameter "([\w.]+)"/.exec(err.detail ?? "")?.[1]?.replace(/\.\d+$/, "");
  const flag = parameter && FLAG_OF_PARAMETER.get(parameter);
  return flag ? new ApiError(`${flag}: the collector refused it: ${err.detail}`, err) : err;
}

/** "80%, 95%" */
const percents = (fractions) => fractions.map((f) => `${Number((f * 100).toPrecision(10))}%`).join(", ");

/** The settings of a tenant, one per line, named as `tenants set` flags. */
function settingsLines(tenant) {
  const value = (s) => {
    const v = s.path.reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), tenant);
    if (v === null || v === undefined) return s.unset === "unlimited" ? "unlimited" : "not set (the runtime's own option)";
    return String(v);
  };
  const rows = [
    ["tier", tenant.tier],
    ...SETTINGS.map((s) => [s.flag.slice(2), value(s)]),
    ["alert-thresholds", tenant.alerts?.thresholds ? percents(tenant.alerts.thresholds) : "-"],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n");
}

export async function listTenants(options) {
  const client = new ApiClient(options);
  const { tenants } = await client.call((api) => api.adminTenants());
  if (options.json) return printJson(tenants);
  if (tenants.length === 0) return console.log("no tenants yet: troupe tenants create <id>");
  console.log(
    table(
      [
        { title: "TENANT", value: (t) => t.tenant.id },
        { title: "TIER", value: (t) => t.tenant.tier },
        { title: "RETENTION", value: (t) => `${t.tenant.retentionDays}d`, right: true },
        { title: "DAILY TOKENS", value: (t) => budget(t.tenant.budgets.dailyTokens), right: true },
        { title: "MONTHLY USD", value: (t) => budget(t.tenant.budgets.monthlyCostUsd), right: true },
        { title: "BUDGET", value: (t) => t.budget.state },
        { title: "COST (24H)", value: (t) => t.activity.costUsd.toFixed(4), right: true },
      ],
      tenants,
    ),
  );
}

function printKeys(keys, json) {
  if (json) return;
  for (const key of keys) console.log(`  ${key.kind.padEnd(8)} ${key.secret}`);
  console.log("\nThese secrets are shown once; store them now.");
}

export async function createTenant(id, options) {
  const client = new ApiClient(options);
  const body = { id, name: options.name, tier: options.tier, retentionDays: numberFlag(options.retentionDays, "--retention-days") };
  const created = await client.call((api) => api.createTenant(body));
  if (options.json) return printJson(created);
  console.log(`created tenant ${created.tenant.id} (tier ${created.tenant.tier}, retention ${created.tenant.retentionDays} days)`);
  printKeys(created.keys, false);
}

export async function rotateKey(id, options) {
  const client = new ApiClient(options);
  const issued = await client.call((api) => api.issueKey(id, { kind: options.kind, rotate: true }));
  if (options.json) return printJson(issued);
  console.log(`new ${options.kind} key for ${id}; revoked ${issued.revokedKeyIds.length} old key(s)`);
  printKeys([issued.key], false);
}

/** `--alert-thresholds 0.8,0.95`: 1-5 distinct fractions in (0, 1], sent ascending. */
function thresholdsFlag(value) {
  if (value === undefined) return undefined;
  const parts = String(value).split(",").map((p) => p.trim()).filter((p) => p !== "");
  const fractions = parts.map(Number);
  const bad = parts.length < 1 || parts.length > 5 || fractions.some((f) => !Number.isFinite(f) || f <= 0 || f > 1) || new Set(fractions).size !== fractions.length;
  if (bad) throw new UsageError(`--alert-thresholds takes 1 to 5 distinct fractions of a budget, each greater than 0 and at most 1, comma-separated (e.g. 0.8,0.95); got "${value}"`);
  return [...fractions].sort((a, b) => a - b);
}

/** The update request from `tenants set` flags: only the flags given; `none` clears a field. */
function updateFromFlags(options) {
  const body = {};
  for (const s of SETTINGS) {
    const v = settingFlag(options[s.option], s.flag, s.rule);
    if (v === undefined) continue;
    if (s.path.length === 1) body[s.path[0]] = v;
    else (body[s.path[0]] ??= {})[s.path[1]] = v;
  }
  if (options.tier !== undefined) body.tier = options.tier;
  const thresholds = thresholdsFlag(options.alertThresholds);
  if (thresholds) body.alerts = { thresholds };
  return body;
}

export async function setTenant(id, options) {
  const body = updateFromFlags(options);
  if (Object.keys(body).length === 0) throw new UsageError("give at least one setting to change (see troupe tenants set --help)");
  const client = new ApiClient(options);
  const tenant = await updateTenant(client, id, body);
  if (options.json) return printJson(tenant);
  console.log(`settings of ${id} (version ${tenant.settingsVersion}):`);
  console.log(settingsLines(tenant));
  console.log("Runtimes following this collector apply the change within seconds: troupe tenants show " + id);
}

/** How far a tenant is into one budget: "1,234 / 50,000 (2%)" or "1,234 (unlimited)". */
function against(used, limit, money) {
  const f = (n) => (money ? `$${n.toFixed(4)}` : Math.round(n).toLocaleString("en-US"));
  if (limit === null || limit === undefined) return `${f(used)} (unlimited)`;
  return `${f(used)} / ${f(limit)} (${limit > 0 ? Math.round((used / limit) * 100) : 100}%)`;
}

export async function showTenant(id, options) {
  const client = new ApiClient(options);
  const [detail, runtimes, alerts] = await Promise.all([
    client.call((api) => api.adminTenant(id)),
    client.call((api) => api.tenantRuntimes(id)),
    client.call((api) => api.tenantAlerts(id)),
  ]);
  const { tenant, budget: status } = detail;
  if (options.json) return printJson({ tenant, budget: status, runtimes, alerts });
  const b = tenant.budgets;
  console.log(`${tenant.id} (${tenant.name}): settings version ${tenant.settingsVersion}, updated ${tenant.updatedAt}`);
  console.log(settingsLines(tenant));
  console.log(`\nbudget: ${status.state}`);
  console.log(`  tokens today       ${against(status.dailyTokensUsed, b.dailyTokens, false)}`);
  console.log(`  tokens this month  ${against(status.monthlyTokensUsed, b.monthlyTokens, false)}`);
  console.log(`  cost today         ${against(status.dailyCostUsdUsed, b.dailyCostUsd, true)}`);
  console.log(`  cost this month    ${against(status.monthlyCostUsdUsed, b.monthlyCostUsd, true)}`);

  console.log(`\nruntimes (checked in within 24 h): ${runtimes.runtimes.length}; current settings version ${runtimes.settingsVersion}`);
  if (runtimes.runtimes.length === 0) {
    console.log("  none: a runtime follows this tenant when started with followControlPlane and a service key (docs/control-plane.md)");
  } else {
    console.log(
      table(
        [
          { title: "RUNTIME", value: (r) => r.name || "(unnamed)" },
          { title: "ID", value: (r) => r.runtimeId },
          { title: "APPLIED VERSION", value: (r) => String(r.appliedVersion), right: true },
          { title: "STATE", value: (r) => (r.appliedVersion >= runtimes.settingsVersion ? "up to date" : "behind") },
          { title: "LAST CHECK-IN", value: (r) => `${ago(r.lastSeenAt)} (${r.lastSeenAt})` },
        ],
        runtimes.runtimes,
      ),
    );
  }

  console.log(`\nwebhook: ${alerts.webhook ? alerts.webhook.url : "none"}`);
  const recent = alerts.alerts.slice(0, 10);
  console.log(`recent alerts: ${alerts.alerts.length === 0 ? "none" : `${recent.length} of ${alerts.alerts.length}`}`);
  if (recent.length > 0) {
    const amount = (a, n) => (n === null ? "-" : a.metric === "costUsd" ? `$${n.toFixed(4)}` : String(Math.round(n)));
    console.log(
      table(
        [
          { title: "RAISED", value: (a) => a.raisedAt },
          { title: "KIND", value: (a) => a.kind },
          { title: "WINDOW", value: (a) => `${a.window} ${a.windowKey}` },
          { title: "METRIC", value: (a) => a.metric },
          { title: "THRESHOLD", value: (a) => (a.threshold === null ? "-" : percents([a.threshold])), right: true },
          { title: "USED/LIMIT", value: (a) => `${amount(a, a.used)}/${amount(a, a.limit)}`, right: true },
          { title: "DELIVERY", value: (a) => a.delivery },
        ],
        recent,
      ),
    );
  }
}

export async function webhookCommand(id, options) {
  const chosen = [options.url !== undefined && "--url", options.remove && "--remove", options.test && "--test"].filter(Boolean);
  if (chosen.length !== 1) throw new UsageError(`give exactly one of --url <url>, --remove or --test${chosen.length ? ` (got ${chosen.join(" and ")})` : ""}`);
  const client = new ApiClient(options);
  if (options.url !== undefined) {
    let set;
    try {
      set = await client.call((api) => api.setWebhook(id, { url: options.url }));
    } catch (err) {
      throw withFlag(err);
    }
    if (options.json) return printJson(set);
    console.log(`alerts of ${id} now go to ${set.url}`);
    console.log(`signing secret: ${set.secret}`);
    console.log("\nThis secret is shown once; store it now. Receivers check each event's Troupe-Signature header with it.");
    return;
  }
  if (options.remove) {
    const removed = await client.call((api) => api.removeWebhook(id));
    if (options.json) return printJson(removed);
    console.log(removed.removed === false ? `${id} had no webhook` : `webhook of ${id} removed: alerts are still recorded, and no longer sent`);
    return;
  }
  const attempt = await client.call((api) => api.testWebhook(id));
  if (options.json) printJson(attempt);
  const how = `${attempt.statusCode === null ? "no HTTP answer" : `HTTP ${attempt.statusCode}`}, ${Math.round(attempt.durationMs)} ms`;
  if (attempt.outcome !== "delivered") throw new Error(`test event to ${attempt.url} not delivered (${how})${attempt.error ? `: ${attempt.error}` : ""}`);
  if (!options.json) console.log(`test event delivered to ${attempt.url} (${how})`);
}

/** `set-budget`: `tenants set` for budgets only, where 0 (as well as none) removes a budget, as it always has. */
export async function setBudget(id, options) {
  const flags = {
    dailyTokens: options.dailyTokens,
    monthlyTokens: options.monthlyTokens,
    dailyCostUsd: options.dailyCostUsd,
    monthlyCostUsd: options.monthlyCostUsd,
  };
  const given = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined).map(([k, v]) => [k, Number(v) === 0 ? "none" : v]));
  if (Object.keys(given).length === 0) throw new UsageError("give at least one of --daily-tokens, --monthly-tokens, --daily-cost-usd, --monthly-cost-usd");
  const { budgets } = updateFromFlags(given);
  const client = new ApiClient(options);
  const tenant = await updateTenant(client, id, { budgets });
  if (options.json) return printJson(tenant);
  const b = tenant.budgets;
  console.log(`budgets of ${id}: daily tokens ${budget(b.dailyTokens)}, monthly tokens ${budget(b.monthlyTokens)}, daily USD ${budget(b.dailyCostUsd)}, monthly USD ${budget(b.monthlyCostUsd)}`);
}

/** `set-retention <id> <days>`: `tenants set --retention-days`. */
export async function setRetention(id, days, options) {
  const retentionDays = numberFlag(days, "<days>");
  if (!Number.isInteger(retentionDays) || retentionDays < 1) throw new UsageError(`<days> must be a whole number of days, at least 1; got "${days}"`);
  const client = new ApiClient(options);
  const tenant = await updateTenant(client, id, { retentionDays });
  if (options.json) return printJson(tenant);
  console.log(`${id} keeps spans for ${tenant.retentionDays} days`);
}

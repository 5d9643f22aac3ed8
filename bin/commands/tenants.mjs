// `troupe tenants ...`: tenant administration through the collector's admin API.
import { ApiClient, numberFlag, table } from "../lib/admin-client.mjs";
import { UsageError } from "../lib/config.mjs";

const budget = (n) => (n === null || n === undefined ? "-" : String(n));

export async function listTenants(options) {
  const client = new ApiClient(options);
  const { tenants } = await client.request("GET", "/api/v1/admin/tenants");
  if (options.json) return console.log(JSON.stringify(tenants, null, 2));
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
  const created = await client.request("POST", "/api/v1/admin/tenants", { body });
  if (options.json) return console.log(JSON.stringify(created, null, 2));
  console.log(`created tenant ${created.tenant.id} (tier ${created.tenant.tier}, retention ${created.tenant.retentionDays} days)`);
  printKeys(created.keys, false);
}

export async function rotateKey(id, options) {
  const client = new ApiClient(options);
  const issued = await client.request("POST", `/api/v1/admin/tenants/${encodeURIComponent(id)}/keys`, { body: { kind: options.kind, rotate: true } });
  if (options.json) return console.log(JSON.stringify(issued, null, 2));
  console.log(`new ${options.kind} key for ${id}; revoked ${issued.revokedKeyIds.length} old key(s)`);
  printKeys([issued.key], false);
}

export async function setBudget(id, options) {
  const flags = {
    dailyTokens: numberFlag(options.dailyTokens, "--daily-tokens"),
    monthlyTokens: numberFlag(options.monthlyTokens, "--monthly-tokens"),
    dailyCostUsd: numberFlag(options.dailyCostUsd, "--daily-cost-usd"),
    monthlyCostUsd: numberFlag(options.monthlyCostUsd, "--monthly-cost-usd"),
  };
  const budgets = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined).map(([k, v]) => [k, v === 0 ? null : v]));
  if (Object.keys(budgets).length === 0) throw new UsageError("give at least one of --daily-tokens, --monthly-tokens, --daily-cost-usd, --monthly-cost-usd");
  const client = new ApiClient(options);
  const { tenant } = await client.request("PUT", `/api/v1/admin/tenants/${encodeURIComponent(id)}`, { body: { budgets } });
  const b = tenant.budgets;
  console.log(`budgets of ${id}: daily tokens ${budget(b.dailyTokens)}, monthly tokens ${budget(b.monthlyTokens)}, daily USD ${budget(b.dailyCostUsd)}, monthly USD ${budget(b.monthlyCostUsd)}`);
}

export async function setRetention(id, days, options) {
  const retentionDays = numberFlag(days, "<days>");
  if (!Number.isInteger(retentionDays) || retentionDays < 1) throw new UsageError(`<days> must be a whole number of days, at least 1; got "${days}"`);
  const client = new ApiClient(options);
  const { tenant } = await client.request("PUT", `/api/v1/admin/tenants/${encodeURIComponent(id)}`, { body: { retentionDays } });
  console.log(`${id} keeps spans for ${tenant.retentionDays} days`);
}

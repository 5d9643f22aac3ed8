// `troupe report`: a tenant's usage report for billing, from the collector's usage API (the same
// numbers the console and the HTTP API show). The API sums usage records, one per LLM call attempt,
// so the report is exact whatever the trace sampling; every format passes its figures through.
import { existsSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { QueryApiClient, QueryApiError } from "@troupe/contract/query-api";
import { ApiClient, table } from "../lib/admin-client.mjs";
import { ensurePackagesBuilt } from "../lib/build.mjs";
import { dataDir, UsageError } from "../lib/config.mjs";

function time(value, flag) {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new UsageError(`${flag} must be an ISO date or time (e.g. 2026-11-01 or 2026-11-01T12:00:00Z); got "${value}"`);
  return new Date(ms).toISOString();
}

export async function reportCommand(options) {
  const from = time(options.from, "--from");
  const to = time(options.to, "--to");
  if (from >= to) throw new UsageError(`--from (${from}) must be before --to (${to})`);
  const query = { tenant: options.tenant, from, to, groupBy: options.groupBy };
  const client = options.embedded ? await embeddedClient() : new ApiClient(options);

  let output;
  if (options.format === "csv") {
    output = await client.call((api) => api.usageCsv(query));
  } else {
    const report = await client.call((api) => api.usage(query));
    output =
      options.format === "json"
        ? JSON.stringify(report, null, 2) + "\n"
        : renderTable(report);
  }
  await client.close?.();
  if (options.out) {
    writeFileSync(options.out, output);
    console.error(`wrote ${options.format} report for ${options.tenant} to ${options.out}`);
  } else {
    process.stdout.write(output);
  }
}

function renderTable(report) {
  const columns = [
    { title: report.groupBy.toUpperCase(), value: (r) => r.group || "(none)" },
    { title: "CALLS", value: (r) => r.calls, right: true },
    { title: "INPUT TOKENS", value: (r) => r.inputTokens, right: true },
    { title: "OUTPUT TOKENS", value: (r) => r.outputTokens, right: true },
    { title: "COST USD", value: (r) => r.costUsd.toFixed(6), right: true },
    { title: "BUDGET REJECTIONS", value: (r) => r.budgetRejections, right: true },
    { title: "RATE LIMITED", value: (r) => r.rateLimited, right: true },
    { title: "ERRORS", value: (r) => r.errors, right: true },
    { title: "TIMEOUTS", value: (r) => r.timeouts, right: true },
  ];
  const rows = [...report.rows, { group: "TOTAL", ...report.totals }];
  const note = "CALLS counts every LLM call attempt, budget-rejected and rate-limited ones included; from usage records, exact whatever the trace sampling.";
  return `Usage of ${report.tenantId} from ${report.from} to ${report.to}\n\n${table(columns, rows)}\n\n${note}\n`;
}

/**
 * The same usage API, answered in-process from the embedded store in TROUPE_DATA_DIR (for when no
 * collector runs): the collector's own query routes over its chDB directory, so the numbers and
 * formats are the API's by construction.
 */
async function embeddedClient() {
  const chdbDir = join(dataDir(), "chdb");
  if (!existsSync(chdbDir)) throw new UsageError(`no embedded store at ${chdbDir}: set TROUPE_DATA_DIR to the data directory of \`troupe start\``);
  ensurePackagesBuilt();
  const { openClickHouse, createTenantRegistry, createQueryRoutes } = await import("@troupe/collector");
  let gateway;
  try {
    gateway = await openClickHouse({ kind: "chdb", dataDir: chdbDir });
  } catch (err) {
    throw new Error(`cannot open the embedded store at ${chdbDir} (${err.message}); if a collector is running on it, use --collector-url instead`);
  }
  const key = `trp_admin_${randomBytes(24).toString("base64url")}`;
  const routes = createQueryRoutes({ gateway, authenticator: createTenantRegistry(gateway, { adminKey: key }) });
  // The typed client, answered by the query routes in-process instead of over HTTP.
  const api = new QueryApiClient({
    baseUrl: "http://embedded",
    key,
    fetch: async (url, init) => routes.request(String(url).replace("http://embedded/api/v1", "http://embedded"), init),
  });
  return {
    async call(fn) {
      try {
        return await fn(api);
      } catch (err) {
        if (err instanceof QueryApiError && err.status > 0) throw new Error(`${err.path}: ${err.answerText ?? err.message}`);
        throw err;
      }
    },
    close: () => gateway.close(),
  };
}

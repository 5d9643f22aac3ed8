// `troupe report`: a tenant's usage report for billing, from the collector's usage API (the same
// numbers the console and the HTTP API show).
import { writeFileSync } from "node:fs";
import { ApiClient, table } from "../lib/admin-client.mjs";
import { UsageError } from "../lib/config.mjs";

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
  if (options.embedded) throw new UsageError("--embedded is not available yet: start the collector (troupe collector) and use --collector-url");
  const client = new ApiClient(options);

  let output;
  if (options.format === "csv") {
    output = await client.request("GET", "/api/v1/usage", { query: { ...query, format: "csv" }, accept: "text" });
  } else {
    const report = await client.request("GET", "/api/v1/usage", { query });
    output =
      options.format === "json"
        ? JSON.stringify(report, null, 2) + "\n"
        : renderTable(report);
  }
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
    { title: "ERRORS", value: (r) => r.errors, right: true },
    { title: "BUDGET REJECTIONS", value: (r) => r.budgetRejections, right: true },
  ];
  const rows = [...report.rows, { group: "TOTAL", ...report.totals }];
  return `Usage of ${report.tenantId} from ${report.from} to ${report.to}\n\n${table(columns, rows)}\n`;
}

#!/usr/bin/env node
// The `troupe` command: one entry point for the embedded stack, its parts, tenant administration
// and usage reports. Subcommands load their modules lazily so `--help` is instant.
import { Command, Option, CommanderError } from "commander";
import { readFileSync } from "node:fs";
import { UsageError } from "./lib/config.mjs";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

const collectorUrlOption = () =>
  new Option("--collector-url <url>", "collector base URL (env TROUPE_COLLECTOR_URL, default http://127.0.0.1:4318)");
const adminKeyOption = () =>
  new Option("--admin-key <key>", "admin key (env TROUPE_ADMIN_KEY, else <data dir>/admin.key)");

const run = (module, fn) => async (...args) => {
  const mod = await import(`./commands/${module}.mjs`);
  await mod[fn](...args);
};

const program = new Command()
  .name("troupe")
  .description("Troupe: a multi-tenant actor runtime for LLM agents, with its own OTLP collector, ClickHouse store and console.")
  .version(version)
  .exitOverride()
  .showHelpAfterError("(run with --help for usage)")
  .addHelpText(
    "after",
    `
Environment:
  TROUPE_DATA_DIR          embedded data directory (default ./.troupe)
  CLICKHOUSE_URL           use a ClickHouse server instead of embedded chDB (+ CLICKHOUSE_USER, _PASSWORD, _DATABASE)
  TROUPE_ADMIN_KEY         operator key (default: generated into <data dir>/admin.key)
  TROUPE_COLLECTOR_PORT    collector port (default 4318)     TROUPE_CONSOLE_PORT  console port (default 3000)
  TROUPE_COLLECTOR_URL     where the console, demo and CLI reach the collector
  TROUPE_FORWARD_OTLP_ENDPOINT / _HEADERS / _PROTOCOL   also send filtered spans to an existing APM
  TROUPE_FORWARD_OTLP_DESTINATIONS          several APMs: a JSON array of {name, endpoint, headers, protocol}
  OPENAI_API_KEY / OPENAI_BASE_URL          a real OpenAI-compatible model for the demo (else simulated)

Examples:
  troupe start                                   collector + console + demo, embedded
  troupe tenants create acme --tier worker       create a tenant and print its keys (once)
  troupe tenants set acme --daily-tokens 50000   change its settings; its runtimes follow within seconds
  troupe report --tenant acme --from 2026-11-01 --to 2026-11-30 --group-by model --format csv
  troupe cluster --nats 127.0.0.1:4222 --namespace shop   distributed workers and their partitions`,
  );

program
  .command("start")
  .description("start the embedded stack: collector on chDB, console and demo workload; Ctrl-C stops everything")
  .option("--no-demo", "do not run the demo workload")
  .option("--no-console", "do not start the console")
  .action(run("start", "startCommand"));

program
  .command("collector")
  .description("run the collector: OTLP/HTTP ingest, metadata filter, ClickHouse store, query API")
  .option("-p, --port <port>", "listen port (env TROUPE_COLLECTOR_PORT, default 4318)")
  .option("--host <host>", "listen address (default 127.0.0.1; 0.0.0.0 in containers)")
  .option("--data-dir <dir>", "embedded data directory (env TROUPE_DATA_DIR, default ./.troupe)")
  .addOption(adminKeyOption())
  .action(run("collector", "collectorCommand"));

program
  .command("console")
  .description("run the web console (Next.js) against a collector")
  .option("-p, --port <port>", "listen port (env TROUPE_CONSOLE_PORT, default 3000)")
  .option("--host <host>", "listen address (default 127.0.0.1)")
  .addOption(collectorUrlOption())
  .action(run("console", "consoleCommand"));

program
  .command("demo")
  .description("run the demo workload: three tenants on the example multi-agent app, one noisy, one at its budget")
  .addOption(collectorUrlOption())
  .addOption(adminKeyOption())
  .option("--rate <n>", "pipelines per second for a quiet tenant", "2")
  .action(run("demo", "demoCommand"));

const tenants = program.command("tenants").description("administer tenants through the collector's admin API");
tenants
  .command("list")
  .description("list tenants with tier, retention and budgets")
  .addOption(collectorUrlOption())
  .addOption(adminKeyOption())
  .option("--json", "print JSON")
  .action(run("tenants", "listTenants"));
tenants
  .command("create <id>")
  .description("create a tenant and print its ingest and console keys (shown once)")
  .option("--name <name>", "display name")
  .addOption(new Option("--tier <tier>", "isolation tier: shared (event loop), worker (thread) or process").choices(["shared", "worker", "process"]))
  .option("--retention-days <days>", "how long its spans are kept")
  .addOption(collectorUrlOption())
  .addOption(adminKeyOption())
  .option("--json", "print JSON")
  .action(run("tenants", "createTenant"));
tenants
  .command("rotate-key <id>")
  .description("issue a new key of a kind and revoke the old ones (the secret is shown once)")
  .addOption(new Option("--kind <kind>", "key kind").choices(["ingest", "console"]).default("console"))
  .addOption(collectorUrlOption())
  .addOption(adminKeyOption())
  .option("--json", "print JSON")
  .action(run("tenants", "rotateKey"));
tenants
  .command("set <id>")
  .description("change a tenant's settings in the collector's registry, the source of truth its runtimes follow; prints the resulting settings and version")
  .addOption(new Option("--tier <tier>", "isolation tier: shared (event loop), worker (thread) or process").choices(["shared", "worker", "process"]))
  .option("--retention-days <days>", "days its spans and usage records are kept (1-3650)")
  .option("--daily-tokens <n>", "token budget per UTC day")
  .option("--monthly-tokens <n>", "token budget per UTC calendar month")
  .option("--daily-cost-usd <usd>", "LLM cost budget per UTC day, in US dollars")
  .option("--monthly-cost-usd <usd>", "LLM cost budget per UTC calendar month, in US dollars")
  .option("--max-in-flight-turns <n>", "quota: turns running at once")
  .option("--max-queued-messages <n>", "quota: messages waiting in its mailboxes")
  .option("--messages-per-second <n>", "quota: messages accepted per second")
  .option("--turn-timeout-ms <ms>", "quota: longest turn, in milliseconds (at most 86400000)")
  .option("--weight <w>", "quota: fair-scheduling weight (greater than 0, at most 1000)")
  .option("--requests-per-minute <n>", "LLM rate limit: requests per minute")
  .option("--tokens-per-minute <n>", "LLM rate limit: tokens per minute")
  .option("--sampling-ratio <ratio>", "share of new traces kept, 0-1 (failed, refused and slow traces are always kept)")
  .option("--alert-thresholds <fractions>", "budget alerts at these fractions of any budget, e.g. 0.8,0.95 (the default)")
  .addOption(collectorUrlOption())
  .addOption(adminKeyOption())
  .option("--json", "print the tenant record as JSON")
  .addHelpText(
    "after",
    `
Only the flags given change. The value none clears a field: a budget becomes unlimited; a quota,
rate limit or sampling ratio becomes not set, and each runtime's own option (its code) applies.
Runtimes following this collector apply changes within seconds; \`troupe tenants show <id>\` lists
which have (the version each applied).

Example:
  troupe tenants set acme --daily-tokens 50000 --weight 2 --sampling-ratio 0.1 --requests-per-minute none`,
  )
  .action(run("tenants", "setTenant"));
tenants
  .command("show <id>")
  .description("a tenant's settings and version, budget status, the runtimes that checked in (applied version, up to date or behind, last check-in), its webhook and recent budget alerts")
  .addOption(collectorUrlOption())
  .addOption(adminKeyOption())
  .option("--json", "print JSON: { tenant, budget, runtimes, alerts }")
  .action(run("tenants", "showTenant"));
tenants
  .command("webhook <id>")
  .description("where a tenant's budget alerts are POSTed: set the URL (prints its signing secret once), remove it, or send a test event")
  .option("--url <url>", "http(s) URL receiving alert events as signed JSON POSTs")
  .option("--remove", "remove the webhook (alerts are still recorded and listed)")
  .option("--test", "send a test event now and print how the attempt ended (exit 1 when not delivered)")
  .addOption(collectorUrlOption())
  .addOption(adminKeyOption())
  .option("--json", "print JSON")
  .action(run("tenants", "webhookCommand"));
tenants
  .command("set-budget <id>")
  .description("set a tenant's token and cost budgets (omit a flag to leave it unchanged; 0 or none removes it); same as tenants set with budget flags")
  .option("--daily-tokens <n>", "tokens per UTC day")
  .option("--monthly-tokens <n>", "tokens per UTC calendar month")
  .option("--daily-cost-usd <usd>", "LLM cost per UTC day, in US dollars")
  .option("--monthly-cost-usd <usd>", "LLM cost per UTC calendar month, in US dollars")
  .addOption(collectorUrlOption())
  .addOption(adminKeyOption())
  .option("--json", "print the tenant record as JSON")
  .action(run("tenants", "setBudget"));
tenants
  .command("set-retention <id> <days>")
  .description("set how many days a tenant's spans are kept; same as tenants set --retention-days")
  .addOption(collectorUrlOption())
  .addOption(adminKeyOption())
  .option("--json", "print the tenant record as JSON")
  .action(run("tenants", "setRetention"));

program
  .command("report")
  .description("a tenant's usage report for billing, from usage records (one per LLM call attempt, exact whatever the trace sampling): calls, tokens, cost, and how attempts ended (errors, timeouts, rate-limited, budget rejections)")
  .requiredOption("--tenant <id>", "tenant id")
  .requiredOption("--from <date>", "start (inclusive), ISO date or time, e.g. 2026-11-01")
  .requiredOption("--to <date>", "end (exclusive), ISO date or time")
  .addOption(new Option("--group-by <by>", "grouping").choices(["day", "model", "agent"]).default("day"))
  .addOption(new Option("--format <format>", "output format").choices(["csv", "json", "table"]).default("table"))
  .option("--out <file>", "write to a file instead of stdout")
  .addOption(collectorUrlOption())
  .addOption(adminKeyOption())
  .option("--embedded", "read the embedded store in TROUPE_DATA_DIR directly (no collector running)")
  .action(run("report", "reportCommand"));

program
  .command("cluster")
  .description("a distributed namespace on its NATS server: live workers, who holds each partition, queued and in-flight messages")
  .option("--nats <servers>", "NATS server(s), comma-separated", "127.0.0.1:4222")
  .option("--namespace <ns>", "the namespace the workers were started with", "default")
  .option("--json", "print JSON")
  .action(run("cluster", "clusterCommand"));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version exit 0; any other parse error is a usage error.
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  const usage = err instanceof UsageError;
  console.error(`troupe: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(usage ? 2 : 1);
}

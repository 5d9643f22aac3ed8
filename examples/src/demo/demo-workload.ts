import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { AgentId, Runtime, TroupeError, WorkerThreadTurnHost, followControlPlane } from "@troupe/runtime";
import { LlmClients, ToolRegistry } from "@troupe/runtime/llm";
import type { TenantLlmConfigInput } from "@troupe/runtime/llm";
import { EncryptedStateStore, FileBlobStore, MasterKeyring } from "@troupe/runtime/state";
import { startTelemetry } from "@troupe/runtime/otel";
import { startMockOpenAiServer } from "@troupe/runtime/testing";
import type { MockOpenAiServer } from "@troupe/runtime/testing";
import { registerResearchPipeline, runResearch, simulatedResearchModel } from "../research-pipeline/index.js";
import { DEMO_TENANTS, provisionDemoTenants, writeDemoState } from "./demo-provisioning.js";
import type { DemoRole, DemoTenant } from "./demo-provisioning.js";

/** Options of the demo workload. Entry points read the environment and pass values in. */
export interface DemoOptions {
  /** The collector's base URL, e.g. http://127.0.0.1:4318. */
  readonly collectorUrl: string;
  /** Admin key, to create the demo tenants and keys. */
  readonly adminKey: string;
  /** Where the demo keeps its keys and encrypted agent state. */
  readonly dataDir: string;
  /** A real OpenAI-compatible endpoint; unset → a built-in simulated model server. */
  readonly openai?: { readonly apiKey: string; readonly baseURL?: string; readonly model?: string };
  /** A 32-byte master key (hex or base64) for agent state; unset → generated into the data dir. */
  readonly stateMasterKey?: string;
  /** Research pipelines per second for a quiet tenant (the noisy one sends 20x). Default 1. */
  readonly pipelinesPerSecond?: number;
  readonly log?: (line: string) => void;
}

/** A running demo. */
export interface RunningDemo {
  readonly tenants: readonly DemoTenant[];
  /** True when the LLM is the built-in simulated model. */
  readonly simulated: boolean;
  /** Per-tenant outcome counts so far. */
  stats(): Record<string, Record<string, number>>;
  /** Stops the workload, drains the runtime, flushes spans. */
  stop(): Promise<void>;
}

const NOISY_FACTOR = 20;
const NOISY_CPU_MS = 2;

function outcomeOf(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause !== undefined && (e as TroupeError).code === "HANDLER_ERROR") e = e.cause;
  return e instanceof TroupeError ? e.code.toLowerCase() : "error";
}

async function stateMasterKey(dataDir: string, configured?: string): Promise<string> {
  if (configured) return configured;
  const file = join(dataDir, "state-master.key");
  if (existsSync(file)) return (await readFile(file, "utf8")).trim();
  const key = randomBytes(32).toString("hex");
  await writeFile(file, key + "\n", { mode: 0o600 });
  return key;
}

/** The cruncher's module, beside this file (.ts from source, .js when built). */
const CRUNCHER_MODULE = new URL(`./cruncher-agent${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/**
 * Runs the demo workload: three tenants running the research pipeline continuously on one
 * runtime — "acme" quiet, "globex" noisy (20x the messages and CPU-heavy handlers), "initech" with
 * a token budget it runs into — exporting metadata-only spans to the collector with a service key.
 * The runtime follows the collector's control plane like any runtime: the tenants' tiers, quotas,
 * budgets, rate limits and sampling are what the console and `troupe tenants set` say, applied
 * within seconds, and budgets count the usage the collector has stored (a restart spends nothing
 * twice).
 */
export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + "\n"));
  const dir = join(options.dataDir, "demo");
  await mkdir(dir, { recursive: true });
  const stateFile = join(dir, "tenants.json");

  log(`provisioning demo tenants ${DEMO_TENANTS.map((t) => t.id).join(", ")} in the collector ...`);
  const { serviceKey, tenants } = await provisionDemoTenants(options.collectorUrl, options.adminKey, stateFile);

  let mockServer: MockOpenAiServer | undefined;
  const base: TenantLlmConfigInput = options.openai
    ? { apiKey: options.openai.apiKey, defaultModel: options.openai.model ?? "gpt-4o-mini", ...(options.openai.baseURL ? { baseURL: options.openai.baseURL } : {}) }
    : await (async () => {
        mockServer = await startMockOpenAiServer({ behaviour: simulatedResearchModel({ latencyMs: 40 }) });
        log(`LLM: simulated model at ${mockServer.baseURL} (set OPENAI_API_KEY and OPENAI_BASE_URL for a real endpoint)`);
        return { apiKey: "simulated", baseURL: mockServer.baseURL, defaultModel: "gpt-4o-mini", provider: "simulated", simulated: true };
      })();
  if (options.openai) log(`LLM: ${options.openai.baseURL ?? "https://api.openai.com/v1"} model ${base.defaultModel}`);

  const telemetry = startTelemetry({
    serviceName: "troupe-demo",
    collector: { url: `${options.collectorUrl}/v1/traces`, apiKey: serviceKey },
    batch: { maxQueueSize: 20_000, maxExportBatchSize: 2_000, scheduledDelayMs: 1_000 },
  });

  const llm = new LlmClients({
    config: Object.fromEntries(tenants.map((t) => [t.id, base])),
    tracerProvider: telemetry.tracerProvider,
  });
  const tools = new ToolRegistry({ tracerProvider: telemetry.tracerProvider });
  const stateStore = new EncryptedStateStore({
    blobs: new FileBlobStore(join(dir, "agent-state")),
    keys: MasterKeyring.single(await stateMasterKey(dir, options.stateMasterKey)),
  });
  const ref: { runtime?: Runtime } = {};
  const turnHost = new WorkerThreadTurnHost({ onOutbound: (o) => ref.runtime!.handleHostedOutbound(o) });
  const runtime = new Runtime({
    tracerProvider: telemetry.tracerProvider,
    stateStore,
    turnHost,
    passivation: { idleMs: 30_000, maxActiveAgents: 5_000 },
    // Defaults for every tenant; what the tenant registry sets overrides them.
    quotas: { defaults: { maxQueuedMessages: 500, turnTimeoutMs: 20_000 } },
  });
  ref.runtime = runtime;
  registerResearchPipeline(runtime, { llm, tools, maxTokens: 200 });
  runtime.registerModule("cruncher", { module: CRUNCHER_MODULE, exportName: "cruncherAgent" });
  await runtime.start();
  const control = followControlPlane({
    collectorUrl: options.collectorUrl,
    apiKey: serviceKey,
    runtime,
    llm,
    sampling: telemetry.sampling,
    cacheFile: join(dir, "control-cache.json"),
    serviceName: "troupe-demo",
    log,
  });
  await control.ready;
  log(`following the collector's tenant settings (version ${control.status().appliedVersion}): change them in the console's operator view or with troupe tenants set`);

  const counts: Record<string, Record<string, number>> = Object.fromEntries(tenants.map((t) => [t.id, {}]));
  const count = (tenant: string, outcome: string): void => {
    const c = counts[tenant]!;
    c[outcome] = (c[outcome] ?? 0) + 1;
  };
  const rate = options.pipelinesPerSecond ?? 1;
  const timers: NodeJS.Timeout[] = [];
  const inFlight = new Set<Promise<unknown>>();
  const track = (tenant: string, work: Promise<unknown>): void => {
    const p = work.then(
      () => count(tenant, "ok"),
      (err: unknown) => count(tenant, outcomeOf(err)),
    );
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const topics = ["actor runtimes", "fair scheduling", "token budgets", "observability", "tenant isolation", "state encryption"];
  let sequence = 0;
  const every = (ms: number, fn: () => void): void => {
    timers.push(setInterval(fn, ms));
  };

  for (const tenant of tenants) {
    const handle = runtime.tenant(tenant.id);
    const pipeline = (): void => {
      if (inFlight.size > 2_000) return count(tenant.id, "skipped_backlog");
      sequence += 1;
      track(tenant.id, runResearch(handle, topics[sequence % topics.length]!, { key: `${tenant.role}-${sequence % 50}`, timeoutMs: 30_000 }));
    };
    const roleRate: Record<DemoRole, number> = { quiet: rate, budget: rate, noisy: rate * NOISY_FACTOR };
    const perSecond = roleRate[tenant.role];
    // Spread ticks at 10 per second so the noisy tenant floods steadily rather than in one burst.
    const perTick = perSecond / 10;
    let carry = 0;
    every(100, () => {
      carry += perTick;
      while (carry >= 1) {
        carry -= 1;
        pipeline();
      }
    });
    if (tenant.role === "noisy") {
      every(100, () => {
        for (let i = 0; i < 15; i++) {
          track(tenant.id, handle.send(new AgentId("cruncher", `c${i % 8}`), { cpuMs: NOISY_CPU_MS }));
        }
      });
    }
  }

  await writeDemoState(stateFile, { pid: process.pid, ready: true, serviceKey, tenants });
  every(15_000, () => {
    log(
      tenants
        .map((t) => `${t.id}: ${Object.entries(counts[t.id]!).map(([k, v]) => `${v} ${k}`).join(", ") || "starting"}`)
        .join(" | "),
    );
  });
  log(`demo running: ${tenants.map((t) => `${t.id} (${t.role})`).join(", ")}`);

  let stopped = false;
  return {
    tenants,
    simulated: mockServer !== undefined,
    stats: () => structuredClone(counts),
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const timer of timers) clearInterval(timer);
      await control.stop();
      await runtime.stop();
      await turnHost.close();
      await Promise.allSettled([...inFlight]);
      await telemetry.shutdown();
      await mockServer?.close();
    },
  };
}

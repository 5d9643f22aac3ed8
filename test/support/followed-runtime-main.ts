// A runtime process that follows its tenants' settings from a collector, as a platform would run
// one: spans and usage records exported with a service key, LLM calls to an OpenAI-compatible
// server, a worker-thread tier, and followControlPlane applying what operators set. Tests drive it
// over loopback HTTP and kill it with SIGKILL. Started by followed-runtime.ts with one JSON argument.
import { createServer } from "node:http";
import {
  AgentId,
  LlmClients,
  Runtime,
  TroupeError,
  WorkerThreadTurnHost,
  followControlPlane,
} from "@troupe/runtime";
import { startTelemetry } from "@troupe/runtime/otel";
import type { FollowedRuntimeConfig } from "./followed-runtime.js";

const cfg = JSON.parse(process.argv[2] ?? "{}") as Required<FollowedRuntimeConfig>;
const log = (line: string): void => void process.stderr.write(`[${cfg.name}] ${line}\n`);

const telemetry = startTelemetry({
  serviceName: cfg.name,
  collector: { url: `${cfg.collectorUrl}/v1/traces`, apiKey: cfg.apiKey },
  registerGlobal: false,
  batch: { scheduledDelayMs: 100 },
});
const llm = new LlmClients({
  config: Object.fromEntries(cfg.tenants.map((t) => [t, { apiKey: "simulated", baseURL: cfg.llmBaseUrl, defaultModel: "gpt-4o-mini" }])),
  tracerProvider: telemetry.tracerProvider,
  loggerProvider: telemetry.loggerProvider,
});
const ref: { rt?: Runtime } = {};
const host = new WorkerThreadTurnHost({ onOutbound: (o) => ref.rt!.handleHostedOutbound(o) });
const runtime = new Runtime({ tracerProvider: telemetry.tracerProvider, turnHost: host });
ref.rt = runtime;
runtime.registerModule("where", { module: new URL("./where-agent.ts", import.meta.url), exportName: "createWhereAgent" });
await runtime.start();

const control = followControlPlane({
  collectorUrl: cfg.collectorUrl,
  apiKey: cfg.apiKey,
  runtime,
  llm,
  sampling: telemetry.sampling,
  cacheFile: cfg.cacheFile,
  runtimeName: cfg.name,
  waitSeconds: cfg.waitSeconds,
  usageRefreshMs: cfg.usageRefreshMs,
  log,
});
await control.ready;

function errorCode(err: unknown): string {
  return err instanceof TroupeError ? err.code : err instanceof Error ? err.message : String(err);
}

const server = createServer((req, res) => {
  let body = "";
  req.on("data", (c: Buffer) => (body += c.toString()));
  req.on("end", () => {
    const input = (body ? JSON.parse(body) : {}) as { tenant?: string; key?: string };
    const answer = async (): Promise<unknown> => {
      switch (req.url) {
        case "/chat":
          try {
            await llm.forTenant(input.tenant!).chat({ messages: [{ role: "user", content: "hi" }], max_tokens: 10 });
            return { ok: true };
          } catch (err) {
            return { ok: false, error: errorCode(err) };
          }
        case "/where":
          return runtime.tenant(input.tenant!).send(new AgentId("where", input.key ?? "w"), {});
        case "/status":
          return control.status();
        case "/flush":
          await telemetry.flushUsageRecords();
          return { ok: true };
        default:
          throw new Error(`no route ${req.url}`);
      }
    };
    answer().then(
      (value) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(value)),
      (err: unknown) => res.writeHead(500).end(JSON.stringify({ error: errorCode(err) })),
    );
  });
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  process.stdout.write(JSON.stringify({ event: "ready", url: `http://127.0.0.1:${port}` }) + "\n");
});

process.on("SIGTERM", () => {
  void (async () => {
    await control.stop();
    await runtime.stop();
    await host.close();
    await telemetry.shutdown();
    process.exit(0);
  })();
});

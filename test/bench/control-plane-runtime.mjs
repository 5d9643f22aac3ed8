// The runtime side of control-plane.bench.ts, run as the runtime ships (built JavaScript, no
// TypeScript loader, whose own thread would be counted): follows every tenant with a service key,
// applying to real LlmClients and to a runtime target that reports each applied config of the
// watched tenant back over IPC; measures its own CPU over an idle window when asked.
import { LlmClients, followControlPlane } from "@troupe/runtime";

const params = JSON.parse(process.env.TROUPE_BENCH_CONTROL_CHILD ?? "{}");
const log = (line) => process.stderr.write(`control-plane.bench: runtime: ${line}\n`);
const llm = new LlmClients({ config: Object.fromEntries(params.tenants.map((t) => [t, { apiKey: "unused", defaultModel: "gpt-4o-mini" }])) });
const runtime = {
  setManagedTenantConfig(tenant, config) {
    if (tenant === params.watched) process.send({ kind: "applied", tenant, weight: config?.quotas.weight ?? undefined, atMs: Date.now() });
  },
};
const control = followControlPlane({ collectorUrl: params.url, apiKey: params.apiKey, runtime, llm, cacheFile: params.cacheFile, log });
await control.ready;
process.send({ kind: "ready" });
process.on("message", (m) => {
  if (m.kind === "measure-idle") {
    const cpu0 = process.cpuUsage();
    const t0 = Date.now();
    setTimeout(() => {
      const cpu = process.cpuUsage(cpu0);
      process.send({ kind: "idle", cpuMs: (cpu.user + cpu.system) / 1_000, elapsedMs: Date.now() - t0 });
    }, m.ms);
  } else {
    void control.stop().then(() => process.exit(0));
  }
});

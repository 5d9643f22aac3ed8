// Tenant isolation at the subject level, enforced by the broker: a private nats-server (JetStream on,
// users with permissions from tenantPermissions()) where a tenant-scoped client can reach only its
// own tenant's subjects, and a worker refuses a message whose tenant does not match its subject.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { AgentId, CrossTenantError, DistributedRuntime, tenantPermissions, tenantToken, type TenantId } from "@troupe/runtime";
import { partitionOf } from "@troupe/runtime/distributed";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const NS = "iso";
const P = 4;
let server: ChildProcess;
let dir: string;
let url: string;
let worker: DistributedRuntime;
let acme: DistributedRuntime;
const ran: string[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function connectAs(user: string, pass: string, inboxPrefix?: string): Promise<NatsConnection> {
  return connect({ servers: url, user, pass, ...(inboxPrefix === undefined ? {} : { inboxPrefix }) });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "troupe-nats-"));
  const port = await freePort();
  url = `127.0.0.1:${port}`;
  const users = [
    { user: "worker", password: "worker-pass" },
    { user: "acme", password: "acme-pass", permissions: tenantPermissions(NS, "acme" as TenantId) },
    { user: "globex", password: "globex-pass", permissions: tenantPermissions(NS, "globex" as TenantId) },
  ];
  writeFileSync(join(dir, "nats.conf"), `listen: "${url}"\njetstream { store_dir: "${join(dir, "js")}" }\nauthorization { users: ${JSON.stringify(users)} }\n`);
  server = spawn("/usr/sbin/nats-server", ["-c", join(dir, "nats.conf")], { stdio: "ignore" });
  for (let i = 0; ; i++) {
    try {
      (await connectAs("worker", "worker-pass")).close();
      break;
    } catch (err) {
      if (i > 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  worker = new DistributedRuntime({ nats: { servers: url, user: "worker", pass: "worker-pass" }, namespace: NS, partitions: P, leaseTtlMs: 1000, storage: "memory" });
  worker.register("echo", () => ({
    onMessage: (m, ctx) => {
      ran.push(`${ctx.tenant}/${ctx.agentId.key}`);
      return { tenant: ctx.tenant, m };
    },
  }));
  await worker.start();
  acme = new DistributedRuntime({ nats: { servers: url, user: "acme", pass: "acme-pass" }, namespace: NS, serve: false, tenants: ["acme"], partitions: P });
  await acme.start();
}, 30_000);

afterAll(async () => {
  await acme?.stop();
  await worker?.stop();
  server?.kill("SIGKILL");
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("tenant isolation at the subject level", () => {
  it("lets a tenant-scoped client call its own agents under broker permissions", async () => {
    await expect(acme.tenant("acme").send(new AgentId("echo", "a-1"), "hello", { timeoutMs: 5000 })).resolves.toEqual({ tenant: "acme", m: "hello" });
  });

  it("refuses another tenant in the client itself", () => {
    expect(() => acme.tenant("globex")).toThrow(CrossTenantError);
  });

  it("puts no raw tenant, type or key text in subjects", () => {
    const tok = tenantToken(NS, "acme" as TenantId);
    expect(tok).toMatch(/^[0-9a-f]{20}$/);
    expect(tok).not.toContain("acme");
    expect(tenantPermissions(NS, "acme" as TenantId).publish.allow).toEqual([`troupe.${NS}.m.*.${tok}`]);
  });

  it("the broker refuses a tenant's connection any subscription to another tenant's subjects", async () => {
    const globexTok = tenantToken(NS, "globex" as TenantId);
    const nc = await connectAs("acme", "acme-pass", `troupe.${NS}.i.${tenantToken(NS, "acme" as TenantId)}`);
    try {
      for (const subject of [`troupe.${NS}.m.>`, `troupe.${NS}.r.${globexTok}.>`, `troupe.${NS}.r.*.*`, ">"]) {
        const errors: unknown[] = [];
        nc.subscribe(subject, {
          callback: (err) => {
            if (err !== null) errors.push(err);
          },
        });
        await nc.flush();
        for (let i = 0; i < 50 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
        expect(String(errors[0]), subject).toMatch(/permission/i);
      }
    } finally {
      await nc.close();
    }
  });

  it("the broker refuses a tenant's connection a publish to another tenant's agents", async () => {
    const acmeTok = tenantToken(NS, "acme" as TenantId);
    const nc = await connectAs("acme", "acme-pass", `troupe.${NS}.i.${acmeTok}`);
    try {
      const subject = `troupe.${NS}.m.${partitionOf("globex" as TenantId, "echo", "g-1", P)}.${tenantToken(NS, "globex" as TenantId)}`;
      await expect(jetstream(nc).publish(subject, "{}", { timeout: 1000 })).rejects.toThrow();
    } finally {
      await nc.close();
    }
    expect(ran.some((r) => r.startsWith("globex/"))).toBe(false);
  });

  it("a worker refuses a message whose tenant header does not match its subject's tenant", async () => {
    const acmeTok = tenantToken(NS, "acme" as TenantId);
    const nc = await connectAs("acme", "acme-pass", `troupe.${NS}.i.${acmeTok}`);
    const before = worker.stats().rejected;
    try {
      // On its own subject, claiming to be globex.
      const h = headers();
      h.set("Troupe-Tenant", "globex");
      h.set("Troupe-Route", "0 - -");
      await jetstream(nc).publish(`troupe.${NS}.m.${partitionOf("acme" as TenantId, "echo", "forged", P)}.${acmeTok}`, JSON.stringify({ t: "echo", k: "forged", m: 1 }), { headers: h });
    } finally {
      await nc.close();
    }
    for (let i = 0; i < 100 && worker.stats().rejected === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(worker.stats().rejected).toBe(before + 1);
    expect(ran).not.toContain("globex/forged");
  });
});

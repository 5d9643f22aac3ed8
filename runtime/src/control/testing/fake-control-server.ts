/**
 * A stand-in collector for tests, speaking the control-plane contract (control-wire.ts) over real
 * HTTP on loopback: settings with ETag, If-None-Match, long polls (`wait`) and 304, usage so far
 * with `excludeLedger`, 401 for a wrong key and 404 for an unknown tenant, each error in the
 * collector's `{ error: { code, message } }` shape. It can go down (connections refused) and come
 * back on the same port, refuse every request, or answer outside the contract. Not exported.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { CONTROL_HEADERS, CONTROL_PATHS, MAX_SETTINGS_WAIT_S, UNSET_BUDGETS, UNSET_QUOTAS, UNSET_RATE_LIMITS, type ManagedTenantSettings, type TenantUsageSoFar } from "@troupe/contract";

/** One request as the fake saw it. */
export interface FakeControlRequest {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly ifNoneMatch: string | undefined;
  readonly runtimeId: string | undefined;
  readonly runtimeName: string | undefined;
  readonly appliedVersion: string | undefined;
  readonly status: number;
}

/** A tenant's settings as a test writes them: anything left out takes the registry's default. */
export type FakeTenantInput = { readonly id: string } & Partial<Omit<ManagedTenantSettings, "id" | "version">>;

export interface FakeControlServer {
  readonly url: string;
  /** Requests answered so far (the last 1,000). */
  readonly requests: readonly FakeControlRequest[];
  /** Creates or replaces a tenant (its version becomes the next one) and wakes long polls. */
  setTenant(input: FakeTenantInput): ManagedTenantSettings;
  /** Removes a tenant and wakes long polls. */
  removeTenant(id: string): void;
  /** Sets what the usage endpoint reports for a tenant, other ledgers' usage only (records of `excludeLedger` are never included). */
  setUsage(id: string, usage: Partial<Omit<TenantUsageSoFar, "id">>): void;
  /** Answers every request with this status and message (undefined: serve again). */
  refuse(status: number | undefined, message?: string): void;
  /** Answers every settings 200 with this body instead (undefined: the real answer). */
  answerWith(body: unknown): void;
  /** Stops listening and drops open connections (the collector is unreachable). */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

export interface FakeControlServerOptions {
  /** The key it accepts. Default "trp_service_test". */
  readonly apiKey?: string;
}

/** Starts a fake collector on a free loopback port. */
export async function startFakeControlServer(options: FakeControlServerOptions = {}): Promise<FakeControlServer> {
  const apiKey = options.apiKey ?? "trp_service_test";
  const tenants = new Map<string, ManagedTenantSettings>();
  const usage = new Map<string, TenantUsageSoFar>();
  const requests: FakeControlRequest[] = [];
  const sockets = new Set<Socket>();
  let waiters: Array<() => void> = [];
  let counter = 0;
  let removedAt = 0;
  let refusal: { status: number; message: string } | undefined;
  let override: { body: unknown } | undefined;

  const wake = (): void => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };

  const selected = (names: string[] | undefined): ManagedTenantSettings[] => (names === undefined ? [...tenants.values()] : names.flatMap((n) => tenants.get(n) ?? []));
  const etagOf = (list: ManagedTenantSettings[]): number => Math.max(removedAt, 0, ...list.map((t) => t.version));

  const send = (req: IncomingMessage, res: ServerResponse, url: URL, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    if (requests.length >= 1_000) requests.shift();
    const h = (name: string): string | undefined => req.headers[name] as string | undefined;
    requests.push({
      path: url.pathname,
      query: url.searchParams,
      ifNoneMatch: h("if-none-match"),
      runtimeId: h(CONTROL_HEADERS.runtimeId),
      runtimeName: h(CONTROL_HEADERS.runtimeName),
      appliedVersion: h(CONTROL_HEADERS.appliedVersion),
      status,
    });
    if (res.destroyed) return;
    res.writeHead(status, { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };
  const error = (req: IncomingMessage, res: ServerResponse, url: URL, status: number, code: string, message: string): void => send(req, res, url, status, { error: { code, message } });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://fake");
    if (refusal !== undefined) return error(req, res, url, refusal.status, "refused", refusal.message);
    if (req.headers.authorization !== `Bearer ${apiKey}`) return error(req, res, url, 401, "unauthenticated", "unknown API key: send 'Authorization: Bearer <key>' with a service or ingest key");
    const names = url.searchParams.get("tenants")?.split(",").filter((n) => n !== "");
    const missing = names?.find((n) => !tenants.has(n));
    if (missing !== undefined) return error(req, res, url, 404, "not_found", `tenant "${missing}" does not exist`);
    if (url.pathname === CONTROL_PATHS.usage) {
      const now = new Date();
      const list = names ?? [...tenants.keys()];
      return send(req, res, url, 200, {
        asOf: now.toISOString(),
        day: now.toISOString().slice(0, 10),
        month: now.toISOString().slice(0, 7),
        tenants: list.map((id) => usage.get(id) ?? { id, dayTokens: 0, dayCostUsd: 0, monthTokens: 0, monthCostUsd: 0 }),
      });
    }
    if (url.pathname !== CONTROL_PATHS.settings) return error(req, res, url, 404, "not_found", `no route ${url.pathname}`);
    const known = /^"(\d+)"$/.exec(req.headers["if-none-match"] ?? "")?.[1];
    const waitS = Math.min(MAX_SETTINGS_WAIT_S, Number(url.searchParams.get("wait") ?? "0"));
    if (known !== undefined && Number(known) === etagOf(selected(names)) && waitS > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== done);
          resolve();
        }, waitS * 1000);
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        waiters.push(done);
        res.once("close", done);
      });
    }
    const list = selected(names);
    const etag = etagOf(list);
    if (known !== undefined && Number(known) === etag) return send(req, res, url, 304, undefined, { etag: `"${etag}"` });
    send(req, res, url, 200, override !== undefined ? override.body : { version: etag, tenants: list }, { etag: `"${etag}"` });
  };

  const server: Server = createServer((req, res) => void handle(req, res));
  server.on("connection", (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  const listen = (port: number): Promise<void> => new Promise((resolve, reject) => server.once("error", reject).listen(port, "127.0.0.1", () => resolve()));
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  const stopListening = (): Promise<void> =>
    new Promise((resolve) => {
      wake();
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setTenant(input) {
      const t: ManagedTenantSettings = {
        tier: "shared",
        samplingRatio: null,
        retentionDays: 30,
        ...input,
        quotas: { ...UNSET_QUOTAS, ...input.quotas },
        budgets: { ...UNSET_BUDGETS, ...input.budgets },
        rateLimits: { ...UNSET_RATE_LIMITS, ...input.rateLimits },
        version: ++counter,
      };
      tenants.set(t.id, t);
      wake();
      return t;
    },
    removeTenant(id) {
      tenants.delete(id);
      removedAt = ++counter;
      wake();
    },
    setUsage(id, u) {
      usage.set(id, { id, dayTokens: 0, dayCostUsd: 0, monthTokens: 0, monthCostUsd: 0, ...u });
    },
    refuse(status, message = "refused") {
      refusal = status === undefined ? undefined : { status, message };
      wake();
    },
    answerWith(body) {
      override = body === undefined ? undefined : { body };
      wake();
    },
    down: stopListening,
    up: () => listen(port),
    close: stopListening,
  };
}

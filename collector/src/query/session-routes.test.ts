import { createHash } from "node:crypto";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { openTempChdb } from "../store/temp-chdb.test-helper.js";
import { createEndedSessions } from "../tenants/ended-sessions.js";
import { createTenantRegistry } from "../tenants/tenant-registry.js";
import { createSessionRoutes } from "./session-routes.js";

const ADMIN = "test-admin-key-abcdefghijk";
const HOUR = 3_600_000;
let clock = Date.now();
let gateway: ClickHouseGateway;
let dispose: () => Promise<void>;
let app: Hono;
const keys = { console: "", ingest: "" };

const digestOf = (cookie: string) => createHash("sha256").update(cookie).digest("base64url");

function call(method: string, path: string, body?: unknown, key: string = keys.console, type = "application/json"): Promise<Response> {
  return Promise.resolve(
    app.request(path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": type } : {}) },
      ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
    }),
  );
}
const ended = async (digest: string, key?: string) => ((await (await call("GET", `/api/v1/sessions/ended/${digest}`, undefined, key)).json()) as { ended: boolean }).ended;
const errorOf = async (res: Response) => ({ status: res.status, ...((await res.json()) as { error: { code: string; message: string } }).error });

beforeAll(async () => {
  ({ gateway, dispose } = await openTempChdb());
  const registry = createTenantRegistry(gateway, { adminKey: ADMIN });
  await registry.createTenant({ id: "acme" });
  keys.console = (await registry.issueKey("acme", "console")).key.secret;
  keys.ingest = (await registry.issueKey("acme", "ingest")).key.secret;
  app = new Hono();
  app.route("/api/v1", createSessionRoutes({ authenticator: registry, sessions: createEndedSessions(gateway, () => clock), now: () => clock }));
});
afterAll(async () => dispose());

describe("ended sessions API", () => {
  it("records a signed-out session until it would have expired, for console and admin keys alike", async () => {
    const a = digestOf("session-cookie-a");
    const b = digestOf("session-cookie-b");
    expect(await ended(a)).toBe(false);
    expect((await call("POST", "/api/v1/sessions/ended", { digest: a, expiresAt: clock + 8 * HOUR })).status).toBe(204);
    expect((await call("POST", "/api/v1/sessions/ended", { digest: b, expiresAt: clock + HOUR }, ADMIN)).status).toBe(204);
    expect(await ended(a)).toBe(true);
    expect(await ended(a, ADMIN)).toBe(true);
    expect(await ended(b)).toBe(true);
    expect(await ended(digestOf("another-cookie"))).toBe(false);
    // Past its expiry a session is refused anyway: the record lapses with it.
    clock += 2 * HOUR;
    expect(await ended(b)).toBe(false);
    expect(await ended(a)).toBe(true);
    // Ending an already expired session records nothing.
    const c = digestOf("session-cookie-c");
    expect((await call("POST", "/api/v1/sessions/ended", { digest: c, expiresAt: clock - 1 })).status).toBe(204);
    expect(await ended(c)).toBe(false);
  });

  it("names what is wrong with a request, and refuses keys that are not console or admin keys", async () => {
    const digest = digestOf("x");
    expect(await errorOf(await call("GET", `/api/v1/sessions/ended/${digest}`, undefined, "trp_console_unknown"))).toMatchObject({ status: 401, code: "unauthenticated" });
    expect(await errorOf(await call("GET", `/api/v1/sessions/ended/${digest}`, undefined, keys.ingest))).toMatchObject({ status: 403, code: "forbidden" });
    expect(await errorOf(await call("GET", "/api/v1/sessions/ended/not-a-digest"))).toMatchObject({ status: 400, message: expect.stringContaining('"digest"') });
    expect(await errorOf(await call("POST", "/api/v1/sessions/ended", { digest: "short", expiresAt: clock + HOUR }))).toMatchObject({ status: 400, message: expect.stringContaining('"digest"') });
    expect(await errorOf(await call("POST", "/api/v1/sessions/ended", { digest, expiresAt: "soon" }))).toMatchObject({ status: 400, message: expect.stringContaining('"expiresAt"') });
    expect(await errorOf(await call("POST", "/api/v1/sessions/ended", { digest, expiresAt: clock + 365 * 24 * HOUR }))).toMatchObject({ status: 400, message: expect.stringContaining("days away") });
    expect(await errorOf(await call("POST", "/api/v1/sessions/ended", { digest, expiresAt: clock + HOUR, cookie: "x" }))).toMatchObject({ status: 400, message: expect.stringContaining('unknown parameter "cookie"') });
    expect(await errorOf(await call("POST", "/api/v1/sessions/ended", "{", keys.console))).toMatchObject({ status: 400, message: expect.stringContaining("not valid JSON") });
    expect(await errorOf(await call("POST", "/api/v1/sessions/ended", "digest=x", keys.console, "application/x-www-form-urlencoded"))).toMatchObject({ status: 415 });
    expect(await errorOf(await call("POST", "/api/v1/sessions/ended", { digest, expiresAt: clock + HOUR, pad: "x".repeat(2000) }))).toMatchObject({ status: 413 });
    expect(await ended(digest)).toBe(false);
  });
});

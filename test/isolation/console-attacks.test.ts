// Cross-tenant attempts against the console (`next start` on the built console, real collector on
// chDB), over plain HTTP: URL tampering, forged, tampered and replayed session cookies, CSRF on
// operator actions, tenant sessions on operator pages and actions. Forms are posted the way a
// browser without JavaScript (or a cross-site page) posts them.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { loadCollectorConfig, startCollector, type RunningCollector } from "@troupe/collector";
import { freePort } from "../support/free-port.js";
import { attemptTable } from "./attempt-table.js";
import { otlpJson, traceId } from "./otlp-json.js";

const attempt = attemptTable("console-attacks");
const S = "console";
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const consoleDir = join(root, "console");
const ADMIN_KEY = `trp_admin_${randomBytes(18).toString("base64url")}`;
const GLOBEX_TRACE = traceId();
const GLOBEX_MARKER = "globex-confidential-agent";

let dir: string;
let collector: RunningCollector;
let next: ChildProcess | undefined;
let base = "";
/** Every console instance of the test shares it, as replicas behind a load balancer do. */
const CONSOLE_SECRET = randomBytes(32).toString("hex");
const keys = { acmeConsole: "", acmeIngest: "", globexIngest: "", doomedConsole: "", doomedKeyId: "" };
/** Cookie headers ("name=value; ...") of signed-in browsers. */
const sessions = { acme: "", admin: "", doomed: "" };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-iso-console-"));
  collector = await startCollector(
    { ...loadCollectorConfig({ TROUPE_DATA_DIR: dir, TROUPE_ADMIN_KEY: ADMIN_KEY }), port: 0, host: "127.0.0.1" },
    { writer: { maxBatchDelayMs: 20 }, onInternalError: () => undefined },
  );
  const r = collector.registry;
  for (const id of ["acme", "globex", "doomed"]) await r.createTenant({ id });
  keys.acmeConsole = (await r.issueKey("acme", "console")).key.secret;
  keys.acmeIngest = (await r.issueKey("acme", "ingest")).key.secret;
  keys.globexIngest = (await r.issueKey("globex", "ingest")).key.secret;
  const doomed = (await r.issueKey("doomed", "console")).key;
  keys.doomedConsole = doomed.secret;
  keys.doomedKeyId = doomed.keyId;
  const { body } = otlpJson([
    { name: `process ${GLOBEX_MARKER}`, traceId: GLOBEX_TRACE, kind: 5, attributes: [["troupe.agent.type", GLOBEX_MARKER], ["troupe.turn.outcome", "ok"]] },
    { name: "chat gpt-secret", traceId: GLOBEX_TRACE, kind: 3, attributes: [["gen_ai.operation.name", "chat"], ["gen_ai.request.model", "gpt-secret"], ["gen_ai.usage.input_tokens", 7777], ["troupe.agent.type", GLOBEX_MARKER]] },
  ]);
  const seeded = await fetch(`${collector.url}/v1/traces`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${keys.globexIngest}` }, body });
  expect(seeded.status).toBe(200);

  ({ url: base, proc: next } = await startConsole());
  sessions.acme = await signIn(keys.acmeConsole);
  sessions.admin = await signIn(ADMIN_KEY);
  sessions.doomed = await signIn(keys.doomedConsole);
}, 300_000);

/** Starts a console instance (`next start`; test/global-setup.ts built it) on the collector, with the shared session secret. */
async function startConsole(): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(process.execPath, [join(root, "node_modules/next/dist/bin/next"), "start", "-p", String(port), "-H", "127.0.0.1"], {
    cwd: consoleDir,
    env: { ...process.env, NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1", TROUPE_COLLECTOR_URL: collector.url, TROUPE_CONSOLE_SECRET: CONSOLE_SECRET },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  proc.stdout!.on("data", (d) => (log += d));
  proc.stderr!.on("data", (d) => (log += d));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${url}/healthz`).then((res) => res.ok, () => false);
    if (ok) return { url, proc };
    if (Date.now() > deadline) throw new Error(`next start did not answer:\n${log}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

async function stopConsole(proc: ChildProcess | undefined): Promise<void> {
  if (proc && proc.exitCode === null) {
    proc.kill("SIGTERM");
    await new Promise((r) => proc.once("exit", r));
  }
}

afterAll(async () => {
  await stopConsole(next);
  await collector?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

// ---------------------------------------------------------------------------------------------
// A minimal cookie-keeping HTTP client, posting forms as a browser without JavaScript does.

/** Merges Set-Cookie headers of a response into a cookie header. */
function withCookies(cookieHeader: string, res: Response): string {
  const jar = new Map(cookieHeader.split("; ").filter(Boolean).map((c) => [c.slice(0, c.indexOf("=")), c.slice(c.indexOf("=") + 1)] as [string, string]));
  for (const set of res.headers.getSetCookie()) {
    const [pair] = set.split(";");
    const eq = pair!.indexOf("=");
    const name = pair!.slice(0, eq);
    const value = pair!.slice(eq + 1);
    if (value === "" || /max-age=0|expires=thu, 01 jan 1970/i.test(set)) jar.delete(name);
    else jar.set(name, value);
  }
  return [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
}

async function page(path: string, cookie: string, init: RequestInit = {}, at = base): Promise<{ status: number; html: string; location: string | null; res: Response }> {
  const res = await fetch(`${at}${path}`, { redirect: "manual", ...init, headers: { cookie, ...(init.headers as Record<string, string>) } });
  return { status: res.status, html: await res.text(), location: res.headers.get("location"), res };
}

/** The hidden and named inputs of the first <form> in `html` containing `marker` (default: any form). */
function formFields(html: string, marker?: string): Map<string, string> {
  const forms = html.match(/<form[\s\S]*?<\/form>/g) ?? [];
  const form = forms.find((f) => (marker ? f.includes(marker) : true));
  if (!form) throw new Error(`no form${marker ? ` containing ${marker}` : ""} in the page`);
  const fields = new Map<string, string>();
  for (const input of form.match(/<input[^>]*>/g) ?? []) {
    const name = /name="([^"]*)"/.exec(input)?.[1];
    if (name === undefined) continue;
    const value = /value="([^"]*)"/.exec(input)?.[1] ?? "";
    fields.set(decodeHtml(name), decodeHtml(value));
  }
  // Selects: their first option (enough for the operator forms: the tier).
  for (const select of form.match(/<select[\s\S]*?<\/select>/g) ?? []) {
    const name = /name="([^"]*)"/.exec(select)?.[1];
    const value = /<option[^>]*value="([^"]*)"/.exec(select)?.[1];
    if (name !== undefined && value !== undefined) fields.set(decodeHtml(name), decodeHtml(value));
  }
  return fields;
}

function decodeHtml(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

async function postForm(path: string, cookie: string, fields: Map<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; html: string; location: string | null; res: Response }> {
  const form = new FormData();
  for (const [k, v] of fields) form.append(k, v);
  return page(path, cookie, { method: "POST", body: form, headers: { origin: base, ...headers } });
}

/** Signs in through the sign-in form (CSRF cookie and token included); returns the cookie header. */
async function signIn(key: string): Promise<string> {
  const first = await page("/sign-in", "");
  let cookie = withCookies("", first.res);
  const fields = formFields(first.html, 'name="key"');
  fields.set("key", key);
  const posted = await postForm("/sign-in", cookie, fields);
  cookie = withCookies(cookie, posted.res);
  if (!cookie.includes("troupe_session=")) throw new Error(`sign-in did not start a session (status ${posted.status}): ${posted.html.slice(0, 300)}`);
  return cookie;
}

function sessionValue(cookie: string): string {
  return /troupe_session=([^;]*)/.exec(cookie)![1]!;
}

function replaceSession(cookie: string, value: string): string {
  return cookie.replace(/troupe_session=[^;]*/, `troupe_session=${value}`);
}

/** Nothing of globex's in a page; `idInUrl`: the trace id was typed by the attacker, so an echo of it is no leak. */
function expectNoGlobex(html: string, idInUrl = false): void {
  if (!idInUrl) expect(html).not.toContain(GLOBEX_TRACE);
  expect(html).not.toContain(GLOBEX_MARKER);
  expect(html).not.toContain("7777");
  expect(html).not.toContain("gpt-secret");
}

function isSignInRedirect(r: { status: number; location: string | null }): boolean {
  return [302, 303, 307, 308].includes(r.status) && (r.location ?? "").includes("/sign-in");
}

describe("console: sessions", () => {
  attempt(S, "no session cookie on a tenant page", "redirect to /sign-in", async () => {
    const r = await page("/traces", "");
    expect(isSignInRedirect(r)).toBe(true);
    return `${r.status} → ${r.location}`;
  });

  attempt(S, "forged session cookie (random, and a well-formed v1.x.y shape)", "redirect to /sign-in", async () => {
    const out: string[] = [];
    for (const value of [randomBytes(40).toString("base64url"), `v1.${randomBytes(64).toString("base64url")}.${randomBytes(32).toString("base64url")}`]) {
      const r = await page("/traces", `troupe_session=${value}`);
      expect(isSignInRedirect(r)).toBe(true);
      out.push(String(r.status));
    }
    return out.join(", ");
  });

  attempt(S, "acme's cookie with one payload byte flipped", "redirect to /sign-in", async () => {
    const [v, payload, mac] = sessionValue(sessions.acme).split(".") as [string, string, string];
    const flipped = payload.slice(0, 20) + (payload[20] === "A" ? "B" : "A") + payload.slice(21);
    const r = await page("/traces", replaceSession(sessions.acme, `${v}.${flipped}.${mac}`));
    expect(isSignInRedirect(r)).toBe(true);
    return `${r.status} → sign-in`;
  });

  attempt(S, "acme's payload spliced with the admin cookie's signature (and vice versa)", "redirect to /sign-in", async () => {
    const [v, acmePayload, acmeMac] = sessionValue(sessions.acme).split(".") as [string, string, string];
    const [, adminPayload, adminMac] = sessionValue(sessions.admin).split(".") as [string, string, string];
    const a = await page("/operator", replaceSession(sessions.acme, `${v}.${acmePayload}.${adminMac}`));
    const b = await page("/operator", replaceSession(sessions.acme, `${v}.${adminPayload}.${acmeMac}`));
    expect(isSignInRedirect(a)).toBe(true);
    expect(isSignInRedirect(b)).toBe(true);
    return `${a.status}, ${b.status} → sign-in`;
  });

  attempt(S, "replayed copy of a session cookie after its owner signed out", "redirect to /sign-in", async () => {
    const cookie = await signIn(keys.acmeConsole);
    const home = await page("/traces", cookie);
    expect(home.status).toBe(200);
    // The sign-out form of the page, posted as the browser would; an attacker kept a copy of the cookie.
    const signOut = await postForm("/traces", cookie, formFields(home.html, "Sign out"));
    expect(withCookies(cookie, signOut.res)).not.toContain("troupe_session=");
    const replay = await page("/traces", cookie);
    expect(isSignInRedirect(replay)).toBe(true);
    const download = await page("/api/export/usage?format=json", cookie);
    expect(download.status).toBe(401);
    // Another console instance (a replica, or this one after a restart) refuses it too: the sign-out is on the collector.
    const other = await startConsole();
    try {
      const elsewhere = await page("/traces", cookie, {}, other.url);
      expect(isSignInRedirect(elsewhere)).toBe(true);
      // ...while a live session of the same key still works there.
      const live = await page("/traces", sessions.acme, {}, other.url);
      expect(live.status).toBe(200);
      return `sign-out ${signOut.status}; replay ${replay.status} → sign-in; export API ${download.status}; on a second console instance ${elsewhere.status} → sign-in`;
    } finally {
      await stopConsole(other.proc);
    }
  });

  attempt(S, "replayed cookie whose console key was revoked afterwards", "no data: the collector refuses the key", async () => {
    const before = await page("/traces", sessions.doomed);
    expect(before.status).toBe(200);
    await collector.registry.revokeKey(keys.doomedKeyId);
    const after = await page("/traces", sessions.doomed);
    expect(after.status === 200 && after.html.includes('data-testid="traces-table"')).toBe(false);
    expectNoGlobex(after.html);
    return `${after.status}${after.location ? ` → ${after.location}` : ""}`;
  });
});

describe("console: tenant sessions reaching another tenant", () => {
  attempt(S, "acme types globex's trace id into the URL", "404 trace not found, nothing of globex", async () => {
    const r = await page(`/traces/${GLOBEX_TRACE}`, sessions.acme);
    expect(r.status).toBe(404);
    expect(r.html).toContain("Trace not found");
    expectNoGlobex(r.html, true);
    return `${r.status}`;
  });

  attempt(S, "acme adds ?tenant=globex to traces, trace detail, agents, usage, overview", "acme's own data only", async () => {
    const out: number[] = [];
    for (const p of ["/traces?tenant=globex", `/traces/${GLOBEX_TRACE}?tenant=globex`, "/agents?tenant=globex", "/usage?tenant=globex", "/?tenant=globex"]) {
      const r = await page(p, sessions.acme);
      expectNoGlobex(r.html, p.includes(GLOBEX_TRACE));
      out.push(r.status);
    }
    return out.join(", ");
  });

  attempt(S, "acme downloads a usage report with tenant=globex", "acme's report (tenant ignored), nothing of globex", async () => {
    const r = await page("/api/export/usage?tenant=globex&format=json&groupBy=model", sessions.acme);
    expect(r.status).toBe(200);
    expect((JSON.parse(r.html) as { tenantId: string }).tenantId).toBe("acme");
    expect(r.res.headers.get("content-disposition")).toContain("troupe-usage-acme-");
    expectNoGlobex(r.html);
    return "200, tenantId acme";
  });

  attempt(S, "acme opens operator pages (/operator, /operator/tenants/globex)", "403 forbidden page", async () => {
    const a = await page("/operator", sessions.acme);
    const b = await page("/operator/tenants/globex", sessions.acme);
    expect([a.status, b.status]).toEqual([403, 403]);
    expectNoGlobex(a.html + b.html);
    expect(a.html).not.toContain(keys.globexIngest);
    return "403, 403";
  });

  attempt(S, "acme posts the operator's create-tenant action with a valid CSRF token", "refused (operator only), no tenant created", async () => {
    // The action's form fields, taken from the admin's page, replayed with acme's session and CSRF pair.
    const adminPage = await page("/operator", sessions.admin);
    const fields = formFields(adminPage.html, 'data-testid="create-tenant-form"');
    // acme's own CSRF token, from the sign-out form of any page it sees.
    const acmePage = await page("/traces", sessions.acme);
    const acmeToken = formFields(acmePage.html, 'name="csrf"').get("csrf")!;
    expect(acmeToken.length).toBeGreaterThan(20);
    fields.set("csrf", acmeToken);
    fields.set("id", "made-by-acme");
    const r = await postForm("/operator", sessions.acme, fields);
    expect(await collector.registry.getTenant("made-by-acme")).toBeNull();
    return `${r.status}; no tenant created`;
  });
});

describe("console: CSRF on operator actions", () => {
  attempt(S, "admin's session, create-tenant form posted without the CSRF token", "refused, no tenant created", async () => {
    const adminPage = await page("/operator", sessions.admin);
    const fields = formFields(adminPage.html, 'data-testid="create-tenant-form"');
    fields.delete("csrf");
    fields.set("id", "csrf-missing");
    const r = await postForm("/operator", sessions.admin, fields);
    expect(await collector.registry.getTenant("csrf-missing")).toBeNull();
    return `${r.status}; no tenant created`;
  });

  attempt(S, "admin's session, create-tenant form with another browser's CSRF token", "refused, no tenant created", async () => {
    const adminPage = await page("/operator", sessions.admin);
    const fields = formFields(adminPage.html, 'data-testid="create-tenant-form"');
    const stranger = await page("/sign-in", "");
    fields.set("csrf", formFields(stranger.html, 'name="key"').get("csrf")!);
    fields.set("id", "csrf-foreign");
    const r = await postForm("/operator", sessions.admin, fields);
    expect(await collector.registry.getTenant("csrf-foreign")).toBeNull();
    return `${r.status}; no tenant created`;
  });

  attempt(S, "cross-site form post (Origin: https://evil.example) with the admin's cookies", "refused, no tenant created", async () => {
    const adminPage = await page("/operator", sessions.admin);
    const fields = formFields(adminPage.html, 'data-testid="create-tenant-form"');
    fields.set("id", "csrf-cross-site");
    const r = await postForm("/operator", sessions.admin, fields, { origin: "https://evil.example" });
    expect(await collector.registry.getTenant("csrf-cross-site")).toBeNull();
    return `${r.status}; no tenant created`;
  });

  attempt(S, "control: the same form with its own token and origin", "tenant created (the refusals above are real)", async () => {
    const adminPage = await page("/operator", sessions.admin);
    const fields = formFields(adminPage.html, 'data-testid="create-tenant-form"');
    fields.set("id", "csrf-control");
    await postForm("/operator", sessions.admin, fields);
    expect(await collector.registry.getTenant("csrf-control")).not.toBeNull();
    return "created";
  });
});

import { beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../config";
import { csrfTokenFor, newCsrfSecret } from "./csrf";
import { refusedCrossSite, refusedWithoutCsrf } from "./refused-post";

beforeAll(() => {
  process.env.TROUPE_CONSOLE_SECRET ??= "refused-post-test-secret";
});

const h = (init: Record<string, string>) => new Headers(init);

describe("a post from another site", () => {
  it("goes on when it names this host, or names none", () => {
    expect(refusedCrossSite("POST", h({ host: "console.test:3000", origin: "http://console.test:3000" }))).toBeNull();
    expect(refusedCrossSite("POST", h({ host: "console.test:3000" }))).toBeNull();
    expect(refusedCrossSite("GET", h({ host: "console.test", origin: "https://evil.example" }))).toBeNull();
    // Behind a proxy that says which host the browser asked for.
    expect(refusedCrossSite("POST", h({ host: "127.0.0.1:3000", "x-forwarded-host": "console.example.com", origin: "https://console.example.com" }))).toBeNull();
  });

  it("is answered 403 with the reason: JSON for a program, a page for a browser", async () => {
    const json = refusedCrossSite("POST", h({ host: "console.test", origin: "https://evil.example" }))!;
    expect(json.status).toBe(403);
    expect(await json.json()).toMatchObject({ error: { code: "forbidden", message: expect.stringContaining("another site") } });
    const html = refusedCrossSite("POST", h({ host: "console.test", origin: "null", accept: "text/html,*/*" }))!;
    expect(html.status).toBe(403);
    expect(html.headers.get("content-type")).toContain("text/html");
    expect(await html.text()).toContain("Form refused");
    // The port is part of the origin.
    expect(refusedCrossSite("POST", h({ host: "console.test:3000", origin: "http://console.test:4000" }))?.status).toBe(403);
  });
});

describe("a whole-page form post without its CSRF token", () => {
  const post = (fields: Record<string, string>, headers: Record<string, string> = {}) => {
    const body = new FormData();
    for (const [k, v] of Object.entries(fields)) body.append(k, v);
    return new Request("http://console.test/operator", { method: "POST", body, headers });
  };

  it("goes on with this browser's token", async () => {
    const cookie = newCsrfSecret();
    expect(await refusedWithoutCsrf(post({ csrf: csrfTokenFor(cookie, loadConfig().sessionKey), id: "x" }), cookie)).toBeNull();
  });

  it("is answered 403 without a token, with another browser's, or without the cookie", async () => {
    const cookie = newCsrfSecret();
    for (const [fields, jar] of [[{ id: "x" }, cookie], [{ csrf: csrfTokenFor(newCsrfSecret(), loadConfig().sessionKey) }, cookie], [{ csrf: csrfTokenFor(cookie, loadConfig().sessionKey) }, undefined]] as const) {
      const res = await refusedWithoutCsrf(post(fields), jar);
      expect(res?.status).toBe(403);
      expect((await res!.json()) as unknown).toMatchObject({ error: { code: "forbidden", message: expect.stringContaining("expired or did not come from this console") } });
    }
  });

  it("leaves the console's own script-driven forms and non-form requests to their handlers", async () => {
    expect(await refusedWithoutCsrf(post({ id: "x" }, { "next-action": "abc" }), undefined)).toBeNull();
    expect(await refusedWithoutCsrf(new Request("http://console.test/x", { method: "POST", body: "{}", headers: { "content-type": "application/json" } }), undefined)).toBeNull();
    expect(await refusedWithoutCsrf(new Request("http://console.test/x"), undefined)).toBeNull();
  });
});

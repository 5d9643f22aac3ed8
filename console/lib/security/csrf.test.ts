import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { csrfTokenFor, newCsrfSecret, verifyCsrfToken } from "./csrf";

const key = randomBytes(32);

describe("signed double-submit CSRF token", () => {
  it("accepts the token of this browser's cookie", () => {
    const secret = newCsrfSecret();
    expect(verifyCsrfToken(secret, csrfTokenFor(secret, key), key)).toBe(true);
  });

  it("rejects a missing cookie, a missing token or a non-string token", () => {
    const secret = newCsrfSecret();
    expect(verifyCsrfToken(undefined, csrfTokenFor(secret, key), key)).toBe(false);
    expect(verifyCsrfToken(secret, null, key)).toBe(false);
    expect(verifyCsrfToken(secret, "", key)).toBe(false);
    expect(verifyCsrfToken(secret, 42, key)).toBe(false);
  });

  it("rejects another browser's token", () => {
    expect(verifyCsrfToken(newCsrfSecret(), csrfTokenFor(newCsrfSecret(), key), key)).toBe(false);
  });

  it("rejects the raw cookie value sent back as the token (a planted cookie is not enough)", () => {
    const secret = newCsrfSecret();
    expect(verifyCsrfToken(secret, secret, key)).toBe(false);
  });

  it("rejects a token made with another server key", () => {
    const secret = newCsrfSecret();
    expect(verifyCsrfToken(secret, csrfTokenFor(secret, randomBytes(32)), key)).toBe(false);
  });
});

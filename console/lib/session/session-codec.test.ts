import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { openSession, sealSession, type SessionData } from "./session-codec";

const key = randomBytes(32);
const now = 1_700_000_000_000;
const data: SessionData = { key: "trp_console_secretvalue", kind: "console", tenantId: "acme", iat: now, exp: now + 60_000 };

describe("session cookie", () => {
  it("round-trips and does not reveal the key in the cookie value", () => {
    const sealed = sealSession(data, key);
    expect(sealed).not.toContain("trp_console");
    expect(sealed).not.toContain("acme");
    expect(openSession(sealed, key, now + 1)).toEqual(data);
  });

  it("uses a fresh IV: sealing twice gives different values", () => {
    expect(sealSession(data, key)).not.toBe(sealSession(data, key));
  });

  it("rejects an expired session", () => {
    expect(openSession(sealSession(data, key), key, now + 60_000)).toBeNull();
  });

  it("rejects a session sealed with another key", () => {
    expect(openSession(sealSession(data, randomBytes(32)), key, now)).toBeNull();
  });

  it("rejects any single-character tampering", () => {
    const sealed = sealSession(data, key);
    for (let i = 0; i < sealed.length; i += 7) {
      const c = sealed[i] === "A" ? "B" : "A";
      const tampered = sealed.slice(0, i) + c + sealed.slice(i + 1);
      if (tampered === sealed) continue;
      expect(openSession(tampered, key, now)).toBeNull();
    }
  });

  it("rejects garbage without throwing", () => {
    for (const v of [undefined, "", "v1", "v1..", "v2.abc.def", "x".repeat(5000), "v1.!!!.???"]) {
      expect(openSession(v, key, now)).toBeNull();
    }
  });

  it("cannot be turned into an admin session by editing it (the MAC covers every byte)", () => {
    const sealed = sealSession(data, key);
    const [v, payload, mac] = sealed.split(".") as [string, string, string];
    const raw = Buffer.from(payload, "base64url");
    raw[raw.length - 1]! ^= 1;
    expect(openSession(`${v}.${raw.toString("base64url")}.${mac}`, key, now)).toBeNull();
  });
});

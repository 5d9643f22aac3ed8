import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StateIntegrityError } from "../errors.js";
import { canonicalEncoding, deriveKeyMacKey, deriveTenantKey, openState, sealState, storageKey } from "./state-crypto.js";
import type { StateIdentity } from "./state-crypto.js";

const master = Buffer.alloc(32, 7);
const macKey = deriveKeyMacKey(master);

/** Strings meant to break naive key building: separators, traversal, NUL, unicode look-alikes, lone surrogates, very long. */
const hostile = fc.oneof(
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.constantFrom("", "/", "//", "..", "../..", "a/b", "a", "b", "a\u0000b", "\u0000", ":", "|", "a:b", "acme", "acmе" /* Cyrillic е */, "ａｃｍｅ", "\uD800", "\uDC00", "\uFFFD", "e\u0301", "é"),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 6 }),
  fc.string({ minLength: 2_000, maxLength: 4_000 }),
);
const identity = fc.record({ tenant: hostile, agentType: hostile, agentKey: hostile });

const same = (a: StateIdentity, b: StateIdentity) => a.tenant === b.tenant && a.agentType === b.agentType && a.agentKey === b.agentKey;

describe("state keys", () => {
  it("no two distinct identities share a storage key (property)", () => {
    fc.assert(
      fc.property(identity, identity, (a, b) => {
        expect(storageKey(macKey, a) === storageKey(macKey, b)).toBe(same(a, b));
      }),
      { numRuns: 2_000 },
    );
  });

  it("splitting the same characters differently gives different keys (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 20 }), fc.nat(20), fc.nat(20), (text, i, j) => {
        const [x, y] = [Math.min(i, j, text.length), Math.min(Math.max(i, j), text.length)];
        const a = { tenant: text.slice(0, x), agentType: text.slice(x, y), agentKey: text.slice(y) };
        const b = { tenant: text.slice(0, y), agentType: text.slice(y), agentKey: text.slice(0, 0) };
        if (!same(a, b)) expect(storageKey(macKey, a)).not.toBe(storageKey(macKey, b));
      }),
    );
  });

  it("the encoding keeps lone surrogates apart (UTF-8 would merge them into U+FFFD)", () => {
    const encodings = ["\uD800", "\uDC00", "\uFFFD"].map((s) => canonicalEncoding("d", [s]).toString("hex"));
    expect(new Set(encodings).size).toBe(3);
  });

  it("keys depend on the master key and are fixed-length hex", () => {
    const id = { tenant: "acme", agentType: "planner", agentKey: "k" };
    const k = storageKey(macKey, id);
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(storageKey(deriveKeyMacKey(Buffer.alloc(32, 8)), id)).not.toBe(k);
  });
});

describe("state encryption", () => {
  it("a blob sealed for one identity never opens for another (property)", () => {
    fc.assert(
      fc.property(identity, identity, fc.string(), (a, b, text) => {
        fc.pre(!same(a, b));
        const blob = sealState(deriveTenantKey(master, a.tenant), 1, a, Buffer.from(text));
        expect(openState(deriveTenantKey(master, a.tenant), a, blob).toString()).toBe(text);
        expect(() => openState(deriveTenantKey(master, b.tenant), b, blob)).toThrow(StateIntegrityError);
        // Even with the right tenant key, a different agent identity fails (identity is in the AAD).
        expect(() => openState(deriveTenantKey(master, a.tenant), b, blob)).toThrow(StateIntegrityError);
      }),
      { numRuns: 300 },
    );
  });

  it("detects any single-byte tampering, truncation and a wrong master key", () => {
    const id = { tenant: "acme", agentType: "writer", agentKey: "doc-1" };
    const key = deriveTenantKey(master, "acme");
    const blob = sealState(key, 1, id, Buffer.from(JSON.stringify({ draft: "hello" })));
    for (let i = 0; i < blob.length; i++) {
      const bad = Buffer.from(blob);
      bad[i] = bad[i]! ^ 0x01;
      expect(() => openState(key, id, bad), `byte ${i}`).toThrow(StateIntegrityError);
    }
    expect(() => openState(key, id, blob.subarray(0, 20))).toThrow(/truncated/);
    expect(() => openState(deriveTenantKey(Buffer.alloc(32, 9), "acme"), id, blob)).toThrow(/another tenant or agent, altered, or encrypted under another master key/);
  });

  it("uses a fresh nonce per seal", () => {
    const id = { tenant: "t", agentType: "a", agentKey: "k" };
    const key = deriveTenantKey(master, "t");
    expect(sealState(key, 1, id, Buffer.from("x")).equals(sealState(key, 1, id, Buffer.from("x")))).toBe(false);
  });
});

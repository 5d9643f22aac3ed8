import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../errors.js";
import type { TenantId } from "@troupe/contract";
import { Subjects, parseNamespace, partitionOf, tenantPermissions, tenantToken } from "./subjects.js";

describe("subjects", () => {
  it("places every agent on a partition in range, the same one every time", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,20}$/), fc.string({ minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 64 }), (tenant, key, n) => {
        const p = partitionOf(tenant as TenantId, "agent", key, n);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(n);
        expect(partitionOf(tenant as TenantId, "agent", key, n)).toBe(p);
      }),
    );
  });

  it("spreads keys over partitions", () => {
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 800; i++) counts[partitionOf("acme" as TenantId, "echo", `k${i}`, 8)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(50);
  });

  it("never puts tenant, type or key text into a message subject, and parses its own subjects back", () => {
    const s = new Subjects("prod");
    const tok = tenantToken("prod", "secret-customer" as TenantId);
    const subject = s.message(partitionOf("secret-customer" as TenantId, "billing", "invoice-42", 16), tok);
    expect(subject).not.toMatch(/secret|customer|billing|invoice/);
    expect(s.parseMessage(subject)).toEqual({ partition: partitionOf("secret-customer" as TenantId, "billing", "invoice-42", 16), tenantTok: tok });
    expect(s.parseMessage("troupe.other.m.1.abc")).toBeNull();
    expect(s.parseMessage("troupe.prod.m.x.abc")).toBeNull();
  });

  it("names each call's reply and the broker's acknowledgement of it, and parses them back", () => {
    const s = new Subjects("prod");
    const tok = tenantToken("prod", "acme" as TenantId);
    const reply = s.callReply(tok, "c0ffee", "1z");
    expect(s.parseReply(reply)).toEqual({ tenantTok: tok, call: "1z", brokerAck: false });
    expect(s.parseReply(`${reply}.a`)).toEqual({ tenantTok: tok, call: "1z", brokerAck: true });
    for (const bad of [`${reply}.b`, `${reply}.a.x`, `troupe.prod.r.${tok}.c0ffee`, `troupe.other.r.${tok}.c0ffee.1z`, `troupe.prod.m.${tok}.c0ffee.1z`]) expect(s.parseReply(bad), bad).toBeNull();
    // Both fall under the caller's subscriptions, and under the tenant's subscribe permission.
    for (const pattern of [s.replies(tok, "c0ffee"), s.repliesTo("c0ffee"), tenantPermissions("prod", "acme" as TenantId).subscribe.allow[0]!]) {
      expect(pattern.endsWith(".>")).toBe(true);
      expect(reply.startsWith(pattern.slice(0, -1).replace("*", tok))).toBe(true);
    }
  });

  it("gives tenants distinct tokens, different per namespace", () => {
    expect(tenantToken("a", "t1" as TenantId)).not.toBe(tenantToken("a", "t2" as TenantId));
    expect(tenantToken("a", "t1" as TenantId)).not.toBe(tenantToken("b", "t1" as TenantId));
  });

  it("grants a tenant its own message and reply subjects only", () => {
    const tok = tenantToken("prod", "acme" as TenantId);
    expect(tenantPermissions("prod", "acme" as TenantId)).toEqual({
      publish: { allow: [`troupe.prod.m.*.${tok}`] },
      subscribe: { allow: [`troupe.prod.r.${tok}.>`, `troupe.prod.i.${tok}.>`] },
    });
  });

  it("refuses namespaces that are not subject-safe", () => {
    for (const bad of ["", "Has.Dot", "a b", "x".repeat(33), ">", 7]) expect(() => parseNamespace(bad)).toThrow(InvalidArgumentError);
    expect(parseNamespace("team-a_1")).toBe("team-a_1");
  });
});

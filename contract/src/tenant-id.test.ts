import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isTenantId, MAX_TENANT_ID_LENGTH, tenantIdProblem } from "./tenant-id.js";

describe("tenant id rule", () => {
  it("accepts lowercase letters, digits, '_' and '-' starting with a letter or digit, up to the maximum length", () => {
    for (const id of ["acme", "a", "0", "team_1-eu", "a".repeat(MAX_TENANT_ID_LENGTH)]) {
      expect(isTenantId(id)).toBe(true);
      expect(tenantIdProblem(id)).toBeUndefined();
    }
  });

  it("names what is wrong with an id it refuses", () => {
    expect(tenantIdProblem(42)).toBe("tenant id must be a string; got number");
    expect(tenantIdProblem(null)).toBe("tenant id must be a string; got null");
    expect(tenantIdProblem("")).toBe(`tenant id must be 1-${MAX_TENANT_ID_LENGTH} characters; got 0`);
    expect(tenantIdProblem("a".repeat(MAX_TENANT_ID_LENGTH + 1))).toBe(`tenant id must be 1-${MAX_TENANT_ID_LENGTH} characters; got 64`);
    expect(tenantIdProblem("Acme")).toMatch(/^tenant id "Acme" is invalid: use lowercase letters/);
    expect(tenantIdProblem("-acme")).toMatch(/is invalid/);
  });

  it("refuses exactly what it names a problem for (property)", () => {
    const id = fc.oneof(fc.string({ maxLength: 70 }), fc.stringMatching(/^[a-z0-9_-]{0,70}$/), fc.constantFrom(null, undefined, 7, {}));
    fc.assert(
      fc.property(id, (value) => {
        expect(isTenantId(value)).toBe(tenantIdProblem(value) === undefined);
      }),
      { numRuns: 5_000 },
    );
  });
});

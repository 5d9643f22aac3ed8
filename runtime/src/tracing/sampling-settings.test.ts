import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../errors.js";
import { DEFAULT_KEEP_SLOWER_THAN_MS, SamplingSettings } from "./sampling-settings.js";

describe("SamplingSettings", () => {
  it("gives a tenant its override, else the default, and takes changes at run time", () => {
    const s = new SamplingSettings({ defaultRatio: 0.01, tenants: { vip: 1 } });
    expect(s.ratioFor("vip")).toBe(1);
    expect(s.ratioFor("acme")).toBe(0.01);
    expect(s.ratioFor(undefined)).toBe(0.01);
    s.setTenantRatio("acme", 0.5);
    s.setDefaultRatio(0.2);
    expect(s.ratioFor("acme")).toBe(0.5);
    expect(s.ratioFor("globex")).toBe(0.2);
    s.setTenantRatio("acme", undefined);
    expect(s.ratioFor("acme")).toBe(0.2);
    expect(s.tenantRatios()).toEqual({ vip: 1 });
  });

  it("defaults to keeping everything, with the keep rules on and a 10 s slow threshold", () => {
    const s = new SamplingSettings();
    expect(s.defaultRatio).toBe(1);
    expect(s.keepRules).toBe(true);
    expect(s.keepSlowerThanMs).toBe(DEFAULT_KEEP_SLOWER_THAN_MS);
    expect(DEFAULT_KEEP_SLOWER_THAN_MS).toBe(10_000);
  });

  it("refuses a ratio outside 0..1 or not a number, naming the value, and keeps the old one", () => {
    const s = new SamplingSettings({ defaultRatio: 0.1, tenants: { acme: 0.3 } });
    expect(() => s.setTenantRatio("acme", 1.5)).toThrow(/sampling ratio of tenant "acme" must be a number from 0 to 1; got 1\.5/);
    expect(() => s.setTenantRatio("acme", "0.5" as unknown as number)).toThrow(/got "0\.5"/);
    expect(() => s.setTenantRatio("acme", Number.NaN)).toThrow(/got NaN/);
    expect(() => s.setDefaultRatio(-1)).toThrow(/sampling\.defaultRatio must be a number from 0 to 1; got -1/);
    expect(() => s.setTenantRatio("Not A Tenant", 0.5)).toThrow(InvalidArgumentError);
    expect(s.ratioFor("acme")).toBe(0.3);
    expect(s.defaultRatio).toBe(0.1);
    expect(() => new SamplingSettings({ tenants: { acme: 2 } })).toThrow(/tenant "acme".*got 2/);
    expect(() => new SamplingSettings({ keepSlowerThanMs: 0 })).toThrow(/keepSlowerThanMs.*got 0/);
    expect(() => new SamplingSettings({ maxSpansPerTrace: 0.5 })).toThrow(/maxSpansPerTrace.*got 0\.5/);
    expect(new SamplingSettings({ keepSlowerThanMs: Number.POSITIVE_INFINITY }).keepSlowerThanMs).toBe(Number.POSITIVE_INFINITY);
  });
});

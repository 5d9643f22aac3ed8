import { describe, expect, it } from "vitest";
import { managedLayerOf } from "../control/managed-tenant-config.js";
import { UNSET_QUOTAS, type TenantId } from "@troupe/contract";
import { InvalidArgumentError } from "../errors.js";
import { DEFAULT_TENANT_QUOTA, TenantSettingsResolver } from "./tenant-quota.js";

const acme = "acme" as TenantId;

describe("TenantSettingsResolver managed layer", () => {
  const resolver = (): TenantSettingsResolver =>
    new TenantSettingsResolver({
      defaults: { maxQueuedMessages: 100 },
      tiers: { worker: { weight: 4, turnTimeoutMs: 9_000 }, small: { weight: 1, maxInFlightTurns: 2 } },
      tenants: { acme: { tier: "small", turnTimeoutMs: 5_000, weight: 2 } },
    });

  it("puts managed values above defaults, the code's tier and the code's tenant overrides; null keeps the code's", () => {
    const r = resolver();
    const v0 = r.version;
    r.setManaged(acme, managedLayerOf(acme, { tier: "shared", quotas: { ...UNSET_QUOTAS, weight: 7, maxQueuedMessages: 50 } }, "threads").layer);
    expect(r.version).toBeGreaterThan(v0);
    expect(r.resolve(acme)).toMatchObject({ tier: "small", weight: 7, maxQueuedMessages: 50, maxInFlightTurns: 2, turnTimeoutMs: 5_000, isolation: "inline" });
    r.setManaged(acme, undefined);
    expect(r.resolve(acme)).toMatchObject({ tier: "small", weight: 2, maxQueuedMessages: 100 });
  });

  it("takes the code's tier of the managed tier's name only when the code defines one", () => {
    const r = resolver();
    r.setManaged(acme, managedLayerOf(acme, { tier: "worker", quotas: UNSET_QUOTAS }, "threads").layer);
    // Tier "worker" exists in code: its quotas apply under the tenant's own overrides.
    expect(r.resolve(acme)).toMatchObject({ tier: "worker", weight: 2, turnTimeoutMs: 5_000, maxInFlightTurns: DEFAULT_TENANT_QUOTA.maxInFlightTurns, isolation: "worker" });
    r.setManaged(acme, managedLayerOf(acme, { tier: "process", quotas: UNSET_QUOTAS }, "threads").layer);
    expect(r.resolve(acme)).toMatchObject({ tier: "small", maxInFlightTurns: 2, isolation: "worker" });
  });

  it("gives a managed rate a burst of one second of it", () => {
    const r = resolver();
    r.setManaged(acme, managedLayerOf(acme, { tier: "shared", quotas: { ...UNSET_QUOTAS, messagesPerSecond: 20 } }, "threads").layer);
    expect(r.resolve(acme)).toMatchObject({ messagesPerSecond: 20, burst: 20 });
  });

  it("maps tiers to isolation by where the runtime can run turns, and says when it cannot honour one", () => {
    expect(managedLayerOf("acme", { tier: "worker", quotas: UNSET_QUOTAS }, "inline")).toEqual({
      layer: { tier: "worker", isolation: "inline" },
      note: expect.stringMatching(/tenant "acme" has tier "worker".*no turnHost/),
    });
    expect(managedLayerOf("acme", { tier: "process", quotas: UNSET_QUOTAS }, "cluster")).toEqual({ layer: { tier: "process" }, note: undefined });
    expect(() => managedLayerOf("acme", { tier: "huge" as never, quotas: UNSET_QUOTAS }, "threads")).toThrow(/tier: must be one of shared, worker, process/);
    expect(() => managedLayerOf("acme", { tier: "shared", quotas: { ...UNSET_QUOTAS, weight: 0 } }, "threads")).toThrow(InvalidArgumentError);
  });
});

import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { UNSET_BUDGETS, UNSET_QUOTAS, UNSET_RATE_LIMITS, type ControlSettingsResponse } from "@troupe/contract";
import { SettingsCache, defaultCachePath } from "./settings-cache.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function file(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "troupe-cache-"));
  dirs.push(dir);
  return join(dir, "deep", "control.json");
}

const settings = (version: number): ControlSettingsResponse => ({
  version,
  tenants: [{ id: "acme", version, tier: "worker", quotas: UNSET_QUOTAS, budgets: { ...UNSET_BUDGETS, dailyTokens: 10 }, rateLimits: UNSET_RATE_LIMITS, samplingRatio: 0.5, retentionDays: 30 }],
});

describe("SettingsCache", () => {
  it("writes atomically with mode 0600 and reads back what it wrote", async () => {
    const path = await file();
    const cache = new SettingsCache(path, "http://collector", undefined);
    expect(await cache.read()).toBeUndefined();
    await cache.write(settings(3), Date.UTC(2025, 3, 2));
    await cache.write(settings(4), Date.UTC(2025, 3, 3));
    expect(await cache.read()).toEqual({ savedAtMs: Date.UTC(2025, 3, 3), settings: settings(4) });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dirname(path))).toEqual(["control.json"]); // no temporary file left behind
  });

  it("refuses a file that is broken, from another collector or for other tenants, saying why", async () => {
    const path = await file();
    await new SettingsCache(path, "http://collector", ["acme"]).write(settings(1), Date.now());
    expect(await new SettingsCache(path, "http://other", ["acme"]).read()).toEqual({ problem: expect.stringMatching(/holds the settings of http:\/\/collector/) });
    expect(await new SettingsCache(path, "http://collector", undefined).read()).toEqual({ problem: expect.stringMatching(/written for other tenants/) });
    const json = JSON.parse(await readFile(path, "utf8")) as { settings: { tenants: Array<{ quotas: { weight: number } }> } };
    json.settings.tenants[0]!.quotas.weight = -1;
    await writeFile(path, JSON.stringify(json));
    expect(await new SettingsCache(path, "http://collector", ["acme"]).read()).toEqual({ problem: expect.stringMatching(/settings\.tenants\.0\.quotas\.weight/) });
    await writeFile(path, "{");
    expect(await new SettingsCache(path, "http://collector", ["acme"]).read()).toEqual({ problem: expect.stringMatching(/not JSON/) });
  });

  it("names the default file from the collector, the key and the tenants, never with the key in it", () => {
    const key = "trp_service_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";
    const path = defaultCachePath("http://collector", key, undefined);
    expect(path).toMatch(/[/\\]\.cache[/\\]troupe[/\\]control-[0-9a-f]{24}\.json$/);
    expect(path).not.toContain(key.slice(12));
    expect(defaultCachePath("http://collector", `${key}x`, undefined)).not.toBe(path);
    expect(defaultCachePath("http://collector", key, ["acme"])).not.toBe(path);
  });
});

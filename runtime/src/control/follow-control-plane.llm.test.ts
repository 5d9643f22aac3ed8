import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BudgetExceededError, RateLimitedError } from "../errors.js";
import { LlmClients } from "../llm/llm-clients.js";
import { startMockOpenAiServer, type MockOpenAiServer } from "../testing/mock-openai-server.js";
import { Runtime } from "../runtime.js";
import { followControlPlane, type ControlPlaneFollower } from "./follow-control-plane.js";
import { startFakeControlServer, type FakeControlServer } from "./testing/fake-control-server.js";
import { until } from "./testing/until.js";

const KEY = "trp_service_test";
const UNSET_BUDGETS = { dailyTokens: null, monthlyTokens: null, dailyCostUsd: null, monthlyCostUsd: null };
let openai: MockOpenAiServer;
const cleanups: Array<() => Promise<unknown>> = [];
beforeAll(async () => {
  openai = await startMockOpenAiServer();
  // Every call uses 5 + 45 = 50 tokens.
  openai.setBehaviour(() => ({ type: "completion", content: "ok", usage: { promptTokens: 5, completionTokens: 45 } }));
});
afterAll(() => openai.close());
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(usageRefreshMs = 10_000): Promise<{ s: FakeControlServer; llm: LlmClients; follower: ControlPlaneFollower; lines: string[] }> {
  const s = await startFakeControlServer({ apiKey: KEY });
  cleanups.push(() => s.close());
  s.setTenant({ id: "acme" });
  // The code allows a million tokens a day; the registry decides.
  const llm = new LlmClients({ config: { acme: { apiKey: "sk-test", baseURL: openai.baseURL, defaultModel: "gpt-4o-mini", budget: { tokensPerDay: 1_000_000 }, retry: { maxRetries: 0 } } } });
  const rt = new Runtime();
  const dir = await mkdtemp(join(tmpdir(), "troupe-llm-control-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const follower = followControlPlane({ collectorUrl: s.url, apiKey: KEY, runtime: rt, llm, cacheFile: join(dir, "c.json"), usageRefreshMs, retry: { minMs: 20, maxMs: 100 }, log: (l) => lines.push(l) });
  cleanups.push(() => follower.stop());
  await follower.ready;
  return { s, llm, follower, lines };
}

const chat = (llm: LlmClients) => llm.forTenant("acme").chat({ messages: [{ role: "user", content: "hi" }], max_tokens: 45 });

describe("LLM budgets and rate limits from the registry", () => {
  it("a lowered budget refuses the tenant's next call; null gives the code's budget back", async () => {
    const { s, llm, follower } = await setup();
    await chat(llm);
    s.setTenant({ id: "acme", budgets: { ...UNSET_BUDGETS, dailyTokens: 60 } });
    await until(() => follower.status().appliedVersion === 2);
    const error = await chat(llm).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect((error as Error).message).toMatch(/50 of 60 tokens used today/);
    s.setTenant({ id: "acme", budgets: UNSET_BUDGETS });
    await until(() => follower.status().appliedVersion === 3);
    await expect(chat(llm)).resolves.toBeDefined();
  });

  it("applies the registry's requests/min to the next call", async () => {
    const { s, llm, follower } = await setup();
    s.setTenant({ id: "acme", rateLimits: { requestsPerMinute: 1, tokensPerMinute: null } });
    await until(() => follower.status().appliedVersion === 2);
    await chat(llm);
    await expect(chat(llm)).rejects.toBeInstanceOf(RateLimitedError);
  });

  it("counts other processes' usage so far: with 80% used elsewhere only the remaining 20% is spent here", async () => {
    const { s, llm, lines, follower } = await setup(100);
    s.setUsage("acme", { dayTokens: 800, monthTokens: 800 });
    s.setTenant({ id: "acme", budgets: { ...UNSET_BUDGETS, dailyTokens: 1_000 } });
    await until(async () => follower.status().appliedVersion === 2 && (await llm.budgetUsage("acme")).tokensToday === 800);
    const usageReads = s.requests.filter((r) => r.path === "/api/v1/control/usage");
    expect(usageReads.at(-1)!.query.get("excludeLedger")).toBe(llm.ledger.id);

    let succeeded = 0;
    let refused: unknown;
    for (let i = 0; i < 10 && refused === undefined; i++) {
      await chat(llm).then(
        () => succeeded++,
        (e: unknown) => (refused = e),
      );
    }
    expect(refused).toBeInstanceOf(BudgetExceededError);
    // 200 tokens left, 50 a call (each reserves a little more than it uses): 3 or 4 calls.
    expect(succeeded).toBeGreaterThanOrEqual(3);
    expect(succeeded).toBeLessThanOrEqual(4);
    expect((await llm.budgetUsage("acme")).tokensToday).toBeLessThanOrEqual(1_000);

    // The collector going away keeps the baseline, and says so once.
    await s.down();
    await new Promise((r) => setTimeout(r, 500));
    expect(lines.filter((l) => l.includes("usage so far unavailable"))).toHaveLength(1);
    expect((await llm.budgetUsage("acme")).tokensToday).toBe(800 + 50 * succeeded);
  });
});

// One tenant's LLM provider is down (5xx) or storms 429s; another tenant shares the process (and the
// same provider host with its own key). Retries stay bounded, failed calls are never charged to the
// budget, and the other tenant's calls keep their results and latency.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LlmClients, LlmProviderError } from "@troupe/runtime";
import { startMockOpenAiServer, type MockOpenAiServer } from "@troupe/runtime/testing";

let server: MockOpenAiServer;
/** How the provider treats tenant "storm"'s key right now. */
let mode: "down" | "429" | "429-long" | "ok" = "ok";

beforeAll(async () => {
  server = await startMockOpenAiServer({
    behaviour: (req) => {
      if (req.authorization === "Bearer sk-storm") {
        if (mode === "down") return { type: "error", status: 503, message: "upstream down" };
        if (mode === "429") return { type: "error", status: 429, message: "rate limited", retryAfterMs: 200 };
        if (mode === "429-long") return { type: "error", status: 429, message: "rate limited", retryAfterSeconds: 120 };
      }
      return { type: "completion", content: `ok for ${req.authorization?.slice(-5)}`, usage: { promptTokens: 10, completionTokens: 5 } };
    },
  });
});

afterAll(async () => {
  await server?.close();
});

// Backoff long enough that a call of the failing tenant takes >= 600 ms: if the other tenant's calls
// waited behind its retries, their latency would show it.
const RETRY = { maxRetries: 3, baseDelayMs: 200, maxDelayMs: 400, maxRetryAfterMs: 1_000 };

function clients(): LlmClients {
  return new LlmClients({
    config: {
      storm: { apiKey: "sk-storm", baseURL: server.baseURL, defaultModel: "m", budget: { tokensPerDay: 1_000_000 }, retry: RETRY, defaultCompletionReservation: 50 },
      calm: { apiKey: "sk-calm", baseURL: server.baseURL, defaultModel: "m", budget: { tokensPerDay: 1_000_000 }, retry: RETRY, defaultCompletionReservation: 50 },
    },
  });
}

function requestsOf(key: string): number {
  return server.requests.filter((r) => r.authorization === `Bearer ${key}`).length;
}

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value: T | Error }> {
  const t0 = performance.now();
  const value = await run().catch((e: unknown) => e as Error);
  return { ms: performance.now() - t0, value };
}

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]!;
}

describe("fault: LLM provider outage and 429 storm for one tenant", () => {
  for (const outage of ["down", "429"] as const) {
    it(`${outage}: the tenant's calls fail after bounded retries, are not charged, and the other tenant is unaffected`, async () => {
      const llm = clients();
      server.reset();
      // Baseline latency of the calm tenant alone.
      mode = "ok";
      const baseline: number[] = [];
      for (let i = 0; i < 20; i++) baseline.push((await timed(() => llm.forTenant("calm").chat({ messages: [{ role: "user", content: "hi" }] }))).ms);

      mode = outage;
      server.reset();
      const stormCalls = Array.from({ length: 20 }, () => timed(() => llm.forTenant("storm").chat({ messages: [{ role: "user", content: "hi" }] })));
      const calm: Array<{ ms: number; value: unknown }> = [];
      for (let i = 0; i < 20; i++) calm.push(await timed(() => llm.forTenant("calm").chat({ messages: [{ role: "user", content: "hi" }] })));
      const storm = await Promise.all(stormCalls);

      // The storm tenant: every call fails with a typed error, after exactly 1 + maxRetries attempts.
      expect(storm.every((s) => s.value instanceof LlmProviderError)).toBe(true);
      expect((storm[0]!.value as LlmProviderError).status).toBe(outage === "down" ? 503 : 429);
      expect(requestsOf("sk-storm")).toBe(20 * (1 + RETRY.maxRetries));
      expect((await llm.budgetUsage("storm")).tokensToday).toBe(0); // failed calls are released, not charged
      // The calm tenant: every call answered, charged only its own usage, latency in line with its baseline.
      expect(calm.every((c) => (c.value as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content === "ok for -calm")).toBe(true);
      expect((await llm.budgetUsage("calm")).tokensToday).toBe(40 * 15);
      const calmP95 = p95(calm.map((c) => c.ms));
      console.log(`${outage}: calm p95 ${calmP95.toFixed(1)} ms (baseline p95 ${p95(baseline).toFixed(1)} ms); storm requests ${requestsOf("sk-storm")}, fastest failing call ${Math.min(...storm.map((x) => x.ms)).toFixed(0)} ms`);
      const stormFastest = Math.min(...storm.map((x) => x.ms));
      expect(stormFastest).toBeGreaterThanOrEqual(550);
      expect(calmP95).toBeLessThan(stormFastest / 2);
    });
  }

  it("a 429 asking to wait longer than the tenant may ends the call at once (no long hold, not charged)", async () => {
    const llm = clients();
    mode = "429-long";
    server.reset();
    const r = await timed(() => llm.forTenant("storm").chat({ messages: [{ role: "user", content: "hi" }] }));
    expect(r.value).toBeInstanceOf(LlmProviderError);
    expect((r.value as Error).message).toMatch(/retry after/);
    expect(r.ms).toBeLessThan(2_000);
    expect(requestsOf("sk-storm")).toBe(1);
    expect((await llm.budgetUsage("storm")).tokensToday).toBe(0);
    mode = "ok";
  });
});

import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { ToolError } from "../errors.js";
import { ATTR, SPAN_ATTRIBUTE_ALLOW_LIST } from "@troupe/contract";
import { ToolRegistry } from "./tool-registry.js";
import type { ToolInstance, ToolRegistration } from "./tool-registration.js";

const exporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
afterEach(() => exporter.reset());

const params = { type: "object", properties: { q: { type: "string" } }, required: ["q"] };
const agent = (key: string) => ({ type: "researcher", key });

function counterTool(): ToolRegistration {
  return {
    description: "counts calls",
    parameters: params,
    factory: () => {
      let calls = 0;
      return { invoke: (args: unknown) => ({ calls: ++calls, q: (args as { q: string }).q }) };
    },
  };
}

describe("ToolRegistry", () => {
  it("builds one instance per (tenant, agent): state is never shared", async () => {
    const tools = new ToolRegistry({ tracerProvider });
    tools.register("count", counterTool());
    const a = tools.forAgent({ tenant: "a", agentId: agent("1") });
    const b = tools.forAgent({ tenant: "b", agentId: agent("1") });
    expect(await a.call("count", '{"q":"x"}')).toBe('{"calls":1,"q":"x"}');
    expect(await a.call("count", { q: "y" })).toBe('{"calls":2,"q":"y"}');
    expect(await b.call("count", '{"q":"z"}')).toBe('{"calls":1,"q":"z"}');
  });

  it("refuses a factory that hands one object to two tenants", async () => {
    const shared: ToolInstance = { invoke: () => "ok" };
    const tools = new ToolRegistry({ tracerProvider });
    tools.register("shared", { description: "bad", parameters: params, factory: () => shared });
    await expect(tools.forAgent({ tenant: "a", agentId: agent("1") }).call("shared", "{}")).resolves.toBe("ok");
    const error = await tools.forAgent({ tenant: "b", agentId: agent("1") }).call("shared", "{}").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolError);
    expect((error as ToolError).code).toBe("TOOL_SHARED");
    expect((error as ToolError).message).toMatch(/already built for another tenant/);
  });

  it("refuses the same object across two registries too", async () => {
    const shared: ToolInstance = { invoke: () => "ok" };
    const r1 = new ToolRegistry({ tracerProvider });
    const r2 = new ToolRegistry({ tracerProvider });
    r1.register("t", { description: "d", parameters: params, factory: () => shared });
    r2.register("t", { description: "d", parameters: params, factory: () => shared });
    await r1.forAgent({ tenant: "a", agentId: agent("1") }).call("t", "{}");
    await expect(r2.forAgent({ tenant: "b", agentId: agent("1") }).call("t", "{}")).rejects.toMatchObject({ code: "TOOL_SHARED" });
  });

  it("rejects bad registrations with clear errors", () => {
    const tools = new ToolRegistry();
    const bad = { description: "d", parameters: params, factory: { invoke: () => 1 } } as unknown as ToolRegistration;
    expect(() => tools.register("x", bad)).toThrow(/factory must be a function/);
    expect(() => tools.register("bad name!", counterTool())).toThrow(/tool name/);
    expect(() => tools.register("x", { ...counterTool(), parameters: { type: "string" } })).toThrow(/JSON schema of type "object"/);
    tools.register("x", counterTool());
    expect(() => tools.register("x", counterTool())).toThrow(expect.objectContaining({ code: "TOOL_ALREADY_REGISTERED" }));
    expect(() => tools.forAgent({ tenant: "a", agentId: agent("1") }, { only: ["nope"] })).toThrow(/no tool "nope"/);
  });

  it("validates arguments: bad JSON, schema failures, unknown tools", async () => {
    const tools = new ToolRegistry({ tracerProvider });
    tools.register("typed", { ...counterTool(), argsSchema: z.object({ q: z.string().min(1) }) });
    const t = tools.forAgent({ tenant: "a", agentId: agent("1") });
    await expect(t.call("typed", "{not json")).rejects.toMatchObject({ code: "TOOL_BAD_ARGUMENTS" });
    await expect(t.call("typed", '{"q":""}')).rejects.toThrow(/invalid arguments: q:/);
    await expect(t.call("missing", "{}")).rejects.toMatchObject({ code: "TOOL_UNKNOWN" });
  });

  it("wraps a tool's own failure as TOOL_FAILED", async () => {
    const tools = new ToolRegistry({ tracerProvider });
    tools.register("boom", { description: "d", parameters: params, factory: () => ({ invoke: () => { throw new RangeError("bad range"); } }) });
    await expect(tools.forAgent({ tenant: "a", agentId: agent("1") }).call("boom", "{}")).rejects.toMatchObject({ code: "TOOL_FAILED", message: expect.stringMatching(/RangeError: bad range/) });
  });

  it("emits execute_tool spans with metadata only", async () => {
    const secret = "secret-argument-93ab";
    const tools = new ToolRegistry({ tracerProvider });
    tools.register("echo", { description: "d", parameters: params, factory: () => ({ invoke: (a: unknown) => `result ${(a as { q: string }).q}` }) });
    tools.register("fail", { description: "d", parameters: params, factory: () => ({ invoke: () => { throw new Error(secret); } }) });
    const t = tools.forAgent({ tenant: "acme", agentId: agent("1") });
    await t.call("echo", JSON.stringify({ q: secret }), { callId: "call_42" });
    await t.call("fail", JSON.stringify({ q: secret })).catch(() => undefined);
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(["execute_tool echo", "execute_tool fail"]);
    expect(spans[0]?.attributes).toMatchObject({
      [ATTR.genAiOperation]: "execute_tool",
      [ATTR.genAiToolName]: "echo",
      [ATTR.genAiToolCallId]: "call_42",
      [ATTR.tenantId]: "acme",
      [ATTR.agentType]: "researcher",
    });
    expect(spans[1]?.status.code).toBe(2);
    expect(spans[1]?.attributes[ATTR.errorType]).toBe("TOOL_FAILED");
    for (const span of spans) {
      for (const key of Object.keys(span.attributes)) expect(SPAN_ATTRIBUTE_ALLOW_LIST.has(key), key).toBe(true);
      expect(JSON.stringify({ a: span.attributes, e: span.events, s: span.status })).not.toContain(secret);
    }
  });

  it("enforces per-tenant tool-call rate limits", async () => {
    const tools = new ToolRegistry({ tracerProvider, rateLimit: (tenant) => (tenant === "small" ? { callsPerMinute: 2 } : undefined) });
    tools.register("count", counterTool());
    const small = tools.forAgent({ tenant: "small", agentId: agent("1") });
    const big = tools.forAgent({ tenant: "big", agentId: agent("1") });
    await small.call("count", '{"q":"1"}');
    await small.call("count", '{"q":"2"}');
    await expect(small.call("count", '{"q":"3"}')).rejects.toMatchObject({ code: "TOOL_RATE_LIMITED" });
    for (let i = 0; i < 10; i++) await big.call("count", '{"q":"x"}');
    expect(exporter.getFinishedSpans().filter((s) => s.attributes[ATTR.outcome] === "rate_limited").length).toBe(1);
  });
});

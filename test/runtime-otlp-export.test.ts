import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { AgentId, AllowListSpanProcessor, ATTR, Runtime, SPAN_ATTRIBUTE_ALLOW_LIST, TopicId, typeSubscription } from "@troupe/runtime";

/** One span as it arrived on the wire (OTLP/HTTP JSON). */
interface WireSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
}

let server: Server;
let url: string;
const received: WireSpan[] = [];
const contentTypes: string[] = [];

function attrValue(v: Record<string, unknown>): unknown {
  if ("stringValue" in v) return v.stringValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return v.doubleValue;
  if ("boolValue" in v) return v.boolValue;
  return v;
}

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/traces") {
        res.writeHead(404).end();
        return;
      }
      contentTypes.push(String(req.headers["content-type"]));
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ name: string; kind: number; traceId: string; spanId: string; parentSpanId?: string; attributes?: Array<{ key: string; value: Record<string, unknown> }> }> }> }>;
      };
      for (const rs of body.resourceSpans) {
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            received.push({
              name: s.name,
              kind: s.kind,
              traceId: s.traceId,
              spanId: s.spanId,
              ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
              attributes: Object.fromEntries((s.attributes ?? []).map((a) => [a.key, attrValue(a.value)])),
            });
          }
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
});

afterAll(async () => {
  context.disable();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe("runtime spans through the real OTLP/HTTP exporter", () => {
  it("arrive with names, parent/child links, tenant attributes and nothing outside the allow-list", async () => {
    const exporter = new OTLPTraceExporter({ url });
    const allowList = new AllowListSpanProcessor(new BatchSpanProcessor(exporter, { scheduledDelayMillis: 20 }));
    const provider = new BasicTracerProvider({ spanProcessors: [allowList] });
    const rt = new Runtime({ tracerProvider: provider });
    const secret = "the customer's confidential prompt";
    rt.register("planner", () => ({
      onMessage: async (m, ctx) => {
        // A careless handler puts content on its span: the allow-list processor must strip it.
        trace.getActiveSpan()?.setAttribute("app.prompt", String(m));
        return ctx.send(new AgentId("writer", ctx.agentId.key), m);
      },
    }));
    rt.register("writer", () => ({ onMessage: (m) => String(m).length }));
    rt.register("listener", () => ({ onMessage: () => undefined }));
    rt.subscribe(typeSubscription("news", "listener"));
    await rt.start();
    expect(await rt.tenant("acme").send(new AgentId("planner", "p1"), secret)).toBe(secret.length);
    await rt.tenant("globex").publish(new TopicId("news", "wire"), secret);
    await rt.stopWhenIdle();
    await provider.forceFlush();
    await provider.shutdown();

    expect(contentTypes.every((c) => c.startsWith("application/json"))).toBe(true);
    const names = received.map((s) => s.name).sort();
    expect(names).toEqual(
      ["invoke_agent listener", "invoke_agent planner", "invoke_agent writer", "process listener", "process planner", "process writer", "publish news", "send planner", "send writer"].sort(),
    );
    const one = (name: string) => received.find((s) => s.name === name)!;
    const link = (child: string, parent: string) => expect(one(child).parentSpanId, `${child} -> ${parent}`).toBe(one(parent).spanId);
    link("process planner", "send planner");
    link("invoke_agent planner", "process planner");
    link("send writer", "invoke_agent planner");
    link("process writer", "send writer");
    link("invoke_agent writer", "process writer");
    link("process listener", "publish news");
    link("invoke_agent listener", "process listener");
    expect(new Set(["send planner", "process planner", "invoke_agent planner", "send writer", "process writer", "invoke_agent writer"].map((n) => one(n).traceId)).size).toBe(1);
    expect(one("send planner").kind).toBe(4); // PRODUCER on the wire (SPAN_KIND_PRODUCER)
    expect(one("process planner").kind).toBe(5); // CONSUMER
    expect(one("invoke_agent planner").kind).toBe(1); // INTERNAL

    for (const s of received) {
      expect(s.attributes[ATTR.tenantId], s.name).toBe(s.name.includes("news") || s.name.includes("listener") ? "globex" : "acme");
      for (const [key, value] of Object.entries(s.attributes)) {
        expect(SPAN_ATTRIBUTE_ALLOW_LIST.has(key), `${s.name}: ${key}`).toBe(true);
        expect(String(value)).not.toContain("confidential");
      }
    }
    expect(one("invoke_agent planner").attributes["app.prompt"]).toBeUndefined();
    expect(allowList.droppedAttributes).toBeGreaterThanOrEqual(1);
    expect(one("invoke_agent writer").attributes[ATTR.genAiOperation]).toBe("invoke_agent");
    expect(one("process writer").attributes[ATTR.hopCount]).toBe(1);
  });
});

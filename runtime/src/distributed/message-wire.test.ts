import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BudgetExceededError, CrossTenantError, HandlerError, InvalidArgumentError, QueueFullError, RateLimitedError, TimeoutError, TroupeError, UnknownAgentTypeError, WorkerTierFullError } from "../errors.js";
import { MessageBodySchema, ReplyBodySchema, decodeJson, decodeMessageBody, decodeReplyBody, encodeJson, fromWireError, toWireError } from "./message-wire.js";

describe("message wire", () => {
  it("rebuilds typed errors with their class, code and message", () => {
    const errors: TroupeError[] = [
      new TimeoutError("too slow"),
      new UnknownAgentTypeError("ghost"),
      new CrossTenantError("no"),
      new QueueFullError("acme", 10),
      new RateLimitedError("acme", "slow down", 250),
      new BudgetExceededError("acme", "spent"),
      new WorkerTierFullError("acme", 16),
      new HandlerError("echo/1", Object.assign(new Error("boom"), { name: "RangeError" })),
      new TroupeError("SOMETHING_NEW", "a code this version does not know"),
    ];
    for (const e of errors) {
      const back = fromWireError(toWireError(e));
      expect(back.constructor).toBe(e.constructor);
      expect(back.code).toBe(e.code);
      expect(back.message).toBe(e.message);
    }
    const q = fromWireError(toWireError(new QueueFullError("acme", 10))) as QueueFullError;
    expect([q.tenant, q.maxQueuedMessages]).toEqual(["acme", 10]);
    const w = fromWireError(toWireError(new WorkerTierFullError("acme", 16))) as WorkerTierFullError;
    expect([w.tenant, w.maxTenants]).toEqual(["acme", 16]);
    const h = fromWireError(toWireError(new HandlerError("echo/1", Object.assign(new Error("boom"), { name: "RangeError" }))));
    expect((h.cause as Error).name).toBe("RangeError");
  });

  it("refuses values that cannot cross workers, and garbage on the way in", () => {
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    expect(() => encodeJson(cyclic, "a message")).toThrow(InvalidArgumentError);
    expect(decodeJson(new TextEncoder().encode("{not json"), MessageBodySchema)).toBeNull();
    expect(decodeJson(encodeJson({ t: 1 }, "x"), MessageBodySchema)).toBeNull();
    expect(decodeJson(encodeJson({ ok: "yes" }, "x"), ReplyBodySchema)).toBeNull();
    expect(decodeJson(encodeJson({ t: "echo", k: "1", m: { a: [1] } }, "x"), MessageBodySchema)).toEqual({ t: "echo", k: "1", m: { a: [1] } });
  });

  it("decodes message and reply bodies exactly as their schemas do (the hand-written fast path)", () => {
    const id = fc.record({ t: fc.oneof(fc.string(), fc.integer()), k: fc.oneof(fc.string(), fc.constant(null)) }, { requiredKeys: [] });
    const message = fc.record(
      { t: fc.oneof(fc.string(), fc.integer()), k: fc.oneof(fc.string(), fc.boolean()), m: fc.jsonValue(), s: fc.oneof(id, fc.constant(null), fc.string()), p: fc.oneof(fc.record({ t: fc.string(), s: fc.oneof(fc.string(), fc.integer()) }), fc.constant(7)), extra: fc.string() },
      { requiredKeys: [] },
    );
    const wireError = fc.record({ code: fc.string(), name: fc.string(), message: fc.oneof(fc.string(), fc.integer()), retryAfterMs: fc.integer() }, { requiredKeys: ["code", "name"] });
    const reply = fc.oneof(fc.record({ ok: fc.constantFrom(true, false, "true"), v: fc.jsonValue(), e: wireError }, { requiredKeys: ["ok"] }), fc.jsonValue());
    fc.assert(
      fc.property(fc.oneof(message, fc.jsonValue()), (v) => {
        const bytes = encodeJson(v, "x");
        expect(decodeMessageBody(bytes)).toEqual(decodeJson(bytes, MessageBodySchema));
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(reply, (v) => {
        const bytes = encodeJson(v, "x");
        expect(decodeReplyBody(bytes)).toEqual(decodeJson(bytes, ReplyBodySchema));
      }),
      { numRuns: 500 },
    );
    expect(decodeMessageBody(new TextEncoder().encode("{not json"))).toBeNull();
    expect(decodeReplyBody(new TextEncoder().encode(""))).toBeNull();
  });
});

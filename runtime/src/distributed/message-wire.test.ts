import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BudgetExceededError, BudgetLedgerUnavailableError, CrossTenantError, HandlerError, InvalidArgumentError, QueueFullError, RateLimitedError, TimeoutError, TroupeError, UnknownAgentTypeError, WorkerTierFullError } from "../errors.js";
import { MessageBodySchema, ReplyBodySchema, decodeJson, decodeMessageBody, decodeReplyBody, encodeJson, encodeRoute, fromWireError, mentionsError, parseRoute, toWireError } from "./message-wire.js";

describe("message wire", () => {
  it("round-trips a message's route, and refuses route headers that are not one", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.option(fc.integer({ min: 0, max: 4_102_444_800_000 }), { nil: undefined }),
        fc.option(fc.stringMatching(/^[a-z0-9.]{1,80}$/), { nil: undefined }),
        (hop, deadline, replyTo) => {
          expect(parseRoute(encodeRoute({ hop, deadline, replyTo }))).toEqual({ hop, deadline, replyTo });
        },
      ),
    );
    for (const bad of ["", "0", "0 -", "-1 - -", "1.5 - -", "0 soon -", "0 - a b", "0  - -", " 0 - -", "0 - " + "x".repeat(600)]) expect(parseRoute(bad), bad).toBeNull();
  });

  it("spots a broker refusal without parsing a stored message's acknowledgement", () => {
    const te = new TextEncoder();
    expect(mentionsError(te.encode('{"stream":"TROUPE_X","seq":12}'))).toBe(false);
    expect(mentionsError(te.encode('{"error":{"code":503,"err_code":10077,"description":"maximum messages per subject exceeded"},"stream":"TROUPE_X","seq":0}'))).toBe(true);
    // A view into a larger buffer is read within its bounds.
    const whole = te.encode('{"error":1}{"stream":"S","seq":1}');
    expect(mentionsError(whole.subarray(11))).toBe(false);
  });

  it("rebuilds typed errors with their class, code and message", () => {
    const errors: TroupeError[] = [
      new TimeoutError("too slow"),
      new UnknownAgentTypeError("ghost"),
      new CrossTenantError("no"),
      new QueueFullError("acme", 10),
      new RateLimitedError("acme", "slow down", 250),
      new BudgetExceededError("acme", "spent"),
      new BudgetLedgerUnavailableError("acme", "ledger down"),
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

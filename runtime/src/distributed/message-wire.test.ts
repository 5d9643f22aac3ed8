import { describe, expect, it } from "vitest";
import { BudgetExceededError, CrossTenantError, HandlerError, InvalidArgumentError, QueueFullError, RateLimitedError, TimeoutError, TroupeError, UnknownAgentTypeError } from "../errors.js";
import { MessageBodySchema, ReplyBodySchema, decodeJson, encodeJson, fromWireError, toWireError } from "./message-wire.js";

describe("message wire", () => {
  it("rebuilds typed errors with their class, code and message", () => {
    const errors: TroupeError[] = [
      new TimeoutError("too slow"),
      new UnknownAgentTypeError("ghost"),
      new CrossTenantError("no"),
      new QueueFullError("acme", 10),
      new RateLimitedError("acme", "slow down", 250),
      new BudgetExceededError("acme", "spent"),
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
});

import { describe, expect, it } from "vitest";
import { AbortedError, HandlerError, RuntimeStoppedError, TimeoutError } from "../errors.js";
import { PendingCalls } from "./pending-calls.js";

describe("PendingCalls", () => {
  it("settles a call with its reply once; a second reply is counted as late", async () => {
    const calls = new PendingCalls(10);
    const p = calls.add("c1", "acme", "tokA", 5000, undefined, () => "agent x");
    expect(calls.reply("c1", "tokA", 42, undefined)).toBe(true);
    await expect(p).resolves.toBe(42);
    expect(calls.reply("c1", "tokA", 43, undefined)).toBe(false);
    expect(calls.lateReplies).toBe(1);
    expect(calls.size).toBe(0);
  });

  it("ignores a reply that arrives on another tenant's subject", async () => {
    const calls = new PendingCalls(10);
    const p = calls.add("c1", "acme", "tokA", 5000, undefined, () => "agent x");
    expect(calls.reply("c1", "tokB", "forged", undefined)).toBe(false);
    expect(calls.mismatchedReplies).toBe(1);
    calls.reply("c1", "tokA", "real", undefined);
    await expect(p).resolves.toBe("real");
  });

  it("times out a call nobody answers, and says whether the broker ever stored its message", async () => {
    const calls = new PendingCalls(10);
    const unstored = calls.add("c1", "acme", "t", 20, undefined, () => "agent x");
    await expect(unstored).rejects.toBeInstanceOf(TimeoutError);
    await expect(unstored).rejects.toThrow(/never confirmed storing/);
    const stored = calls.add("c2", "acme", "t", 20, undefined, () => "agent x");
    expect(calls.stored("c2", "other-tenant")).toBe(false);
    expect(calls.stored("c2", "t")).toBe(true);
    await expect(stored).rejects.toThrow(/^no answer from agent x within 20 ms$/);
    expect(calls.timeouts).toBe(2);
    expect(calls.size).toBe(0);
  });

  it("names a waiting call's tenant only to its own tenant's token", () => {
    const calls = new PendingCalls(10);
    void calls.add("c1", "acme", "tokA", 5000, undefined, () => "a").catch(() => undefined);
    expect(calls.tenantOf("c1", "tokA")).toBe("acme");
    expect(calls.tenantOf("c1", "tokB")).toBeUndefined();
    expect(calls.tenantOf("c2", "tokA")).toBeUndefined();
    calls.failAll(new RuntimeStoppedError());
  });

  it("rejects with the reply's error, on abort, and on failAll", async () => {
    const calls = new PendingCalls(10);
    const p1 = calls.add("c1", "acme", "t", 5000, undefined, () => "a");
    calls.reply("c1", "t", undefined, new HandlerError("a/1", new Error("boom")));
    await expect(p1).rejects.toBeInstanceOf(HandlerError);
    const ac = new AbortController();
    const p2 = calls.add("c2", "acme", "t", 5000, ac.signal, () => "a");
    ac.abort();
    await expect(p2).rejects.toBeInstanceOf(AbortedError);
    const p3 = calls.add("c3", "acme", "t", 5000, undefined, () => "a");
    calls.failAll(new RuntimeStoppedError());
    await expect(p3).rejects.toBeInstanceOf(RuntimeStoppedError);
  });

  it("has a bound", () => {
    const calls = new PendingCalls(1);
    void calls.add("c1", "acme", "t", 5000, undefined, () => "a").catch(() => undefined);
    expect(calls.hasRoom()).toBe(false);
    calls.failAll(new RuntimeStoppedError());
    expect(calls.hasRoom()).toBe(true);
  });
});

import type { JsMsg } from "@nats-io/jetstream";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AckKeepAlive } from "./ack-keep-alive.js";

function fakeMsg(): JsMsg & { workingCalls: number } {
  const m = { workingCalls: 0, working: () => void m.workingCalls++ };
  return m as unknown as JsMsg & { workingCalls: number };
}

describe("AckKeepAlive", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it("extends every tracked message within a third of the ack wait, until it is untracked", () => {
    const k = new AckKeepAlive(3000);
    const a = fakeMsg();
    const b = fakeMsg();
    k.track(a);
    vi.advanceTimersByTime(999);
    expect(a.workingCalls).toBe(0);
    vi.advanceTimersByTime(1);
    expect(a.workingCalls).toBe(1);
    k.track(b);
    vi.advanceTimersByTime(1000);
    expect([a.workingCalls, b.workingCalls]).toEqual([2, 1]);
    k.untrack(a);
    vi.advanceTimersByTime(3000);
    expect([a.workingCalls, b.workingCalls]).toEqual([2, 4]);
    k.stop();
    vi.advanceTimersByTime(3000);
    expect(b.workingCalls).toBe(4);
    expect(k.size).toBe(0);
  });

  it("keeps no timer while idle, and starts one again for the next message", () => {
    const k = new AckKeepAlive(300);
    const a = fakeMsg();
    k.track(a);
    k.untrack(a);
    vi.advanceTimersByTime(100);
    expect(vi.getTimerCount()).toBe(0);
    const b = fakeMsg();
    k.track(b);
    vi.advanceTimersByTime(100);
    expect(b.workingCalls).toBe(1);
    k.stop();
  });
});

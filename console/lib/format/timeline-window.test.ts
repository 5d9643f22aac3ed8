import { describe, expect, it } from "vitest";
import { clampWindow, fullWindow, isFullWindow, placeInWindow, timeAt, zoomWindow } from "./timeline-window";

describe("timeline zoom windows", () => {
  it("zooms in and out around the middle or a point, inside the trace", () => {
    const all = fullWindow(800);
    expect(zoomWindow(all, 2, 800)).toEqual({ startMs: 200, endMs: 600 });
    expect(zoomWindow(all, 4, 800, 0)).toEqual({ startMs: 0, endMs: 200 });
    expect(zoomWindow({ startMs: 600, endMs: 800 }, 0.5, 800)).toEqual({ startMs: 400, endMs: 800 });
    expect(zoomWindow({ startMs: 200, endMs: 600 }, 0.25, 800)).toEqual(all);
    expect(isFullWindow(zoomWindow(all, 0.5, 800), 800)).toBe(true);
  });

  it("a dragged stretch becomes the window, in either direction, never narrower than 1 µs", () => {
    expect(clampWindow(500, 100, 800)).toEqual({ startMs: 100, endMs: 500 });
    expect(clampWindow(-50, 50, 800)).toEqual({ startMs: 0, endMs: 100 });
    const tiny = clampWindow(10, 10, 800);
    expect(tiny.endMs - tiny.startMs).toBeCloseTo(0.001, 9);
  });

  it("places bars in the window, cut at its edges, and drops those wholly outside", () => {
    const w = { startMs: 100, endMs: 300 };
    expect(placeInWindow(150, 50, w)).toEqual({ leftPct: 25, widthPct: 25 });
    expect(placeInWindow(50, 100, w)).toEqual({ leftPct: 0, widthPct: 25 });
    expect(placeInWindow(250, 500, w)).toEqual({ leftPct: 75, widthPct: 25 });
    expect(placeInWindow(0, 50, w)).toBeNull();
    expect(placeInWindow(301, 5, w)).toBeNull();
    expect(placeInWindow(200, 0, w)).toEqual({ leftPct: 50, widthPct: 0 });
    expect(timeAt(w, 0.5)).toBe(200);
  });
});

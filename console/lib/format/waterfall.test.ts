import { describe, expect, it } from "vitest";
import { descendantCount, hasChildren, parentIndex, visibleRows } from "./waterfall";

// root ─ a ─ a1
//      │   └ a2 ─ a2x
//      └ b
const rows = (["root", 0, "a", 1, "a1", 2, "a2", 2, "a2x", 3, "b", 1] as const).reduce<{ span: { spanId: string; depth: number } }[]>(
  (out, v, i, all) => (i % 2 === 0 ? [...out, { span: { spanId: v as string, depth: all[i + 1] as number } }] : out),
  [],
);
const ids = (r: { span: { spanId: string } }[]) => r.map((x) => x.span.spanId);

describe("waterfall tree", () => {
  it("knows each row's children, parent and subtree size from depth-first order", () => {
    expect(rows.map((_, i) => hasChildren(rows, i))).toEqual([true, true, false, true, false, false]);
    expect(rows.map((_, i) => parentIndex(rows, i))).toEqual([-1, 0, 1, 1, 3, 0]);
    expect(rows.map((_, i) => descendantCount(rows, i))).toEqual([5, 3, 0, 1, 0, 0]);
  });

  it("a collapsed span keeps its row and hides its whole subtree, and only that", () => {
    expect(ids(visibleRows(rows, new Set()))).toEqual(["root", "a", "a1", "a2", "a2x", "b"]);
    expect(ids(visibleRows(rows, new Set(["a"])))).toEqual(["root", "a", "b"]);
    expect(ids(visibleRows(rows, new Set(["a2"])))).toEqual(["root", "a", "a1", "a2", "b"]);
    expect(ids(visibleRows(rows, new Set(["a2", "root"])))).toEqual(["root"]);
  });
});

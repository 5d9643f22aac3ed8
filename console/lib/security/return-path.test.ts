import { describe, expect, it } from "vitest";
import { safeReturnPath, signInPath } from "./return-path";

describe("return path after sign-in", () => {
  it("keeps a same-origin page with its query", () => {
    expect(safeReturnPath("/traces?status=error&range=6h")).toBe("/traces?status=error&range=6h");
    expect(safeReturnPath("/operator/tenants/globex")).toBe("/operator/tenants/globex");
    expect(safeReturnPath("/traces/abc#span-1")).toBe("/traces/abc#span-1");
  });

  it("refuses every way of naming another site", () => {
    for (const evil of [
      "https://evil.example/",
      "//evil.example/x",
      "/\\evil.example",
      "\\\\evil.example",
      "/%5Cevil.example",
      "javascript:alert(1)",
      "http:/evil.example",
      " /traces",
      "/\t/evil.example",
      "",
      null,
      42,
      ["/traces"],
    ]) {
      const safe = safeReturnPath(evil);
      if (safe !== null) expect(new URL(safe, "http://console.test").origin, String(evil)).toBe("http://console.test");
    }
    expect(safeReturnPath("https://evil.example/")).toBeNull();
    expect(safeReturnPath("//evil.example/x")).toBeNull();
    expect(safeReturnPath("/\\evil.example")).toBeNull();
    expect(safeReturnPath("javascript:alert(1)")).toBeNull();
  });

  it("never returns to the sign-in page itself, nor takes a huge value", () => {
    expect(safeReturnPath("/sign-in?next=/x")).toBeNull();
    expect(safeReturnPath(`/${"a".repeat(3000)}`)).toBeNull();
  });

  it("builds the sign-in link, leaving the default landing page to the home page", () => {
    expect(signInPath("/traces?status=error")).toBe("/sign-in?next=%2Ftraces%3Fstatus%3Derror");
    expect(signInPath("/")).toBe("/sign-in");
    expect(signInPath(null)).toBe("/sign-in");
    expect(signInPath("//evil.example")).toBe("/sign-in");
  });
});

import { describe, expect, it } from "vitest";
import { attributeIsTrue, eventOffsetMs, flagsText, scopeText, spanHref } from "./span-fields";

describe("span fields", () => {
  it("reads a true attribute whether typed or stored as text before types were kept", () => {
    expect(attributeIsTrue(true)).toBe(true);
    expect(attributeIsTrue("true")).toBe(true);
    expect(attributeIsTrue(false)).toBe(false);
    expect(attributeIsTrue("false")).toBe(false);
    expect(attributeIsTrue(1)).toBe(false);
    expect(attributeIsTrue(undefined)).toBe(false);
  });

  it("words OTLP flags: the sampled bit, and the remote bits only when the sender set them", () => {
    expect(flagsText(0)).toBe("");
    expect(flagsText(0x01)).toBe("sampled (0x01)");
    expect(flagsText(0x00 | 0x100)).toBe("not sampled · local (0x100)");
    expect(flagsText(0x301)).toBe("sampled · remote (0x301)");
  });

  it("names a scope with its version when it has one", () => {
    expect(scopeText({ name: "@troupe/runtime", version: "0.1.0" })).toBe("@troupe/runtime@0.1.0");
    expect(scopeText({ name: "lib", version: "" })).toBe("lib");
    expect(scopeText({ name: "", version: "1" })).toBe("");
  });

  it("times events from the span start exactly, in ms", () => {
    const span = { startTimeUnixNano: "1700000000000000123" };
    expect(eventOffsetMs(span, { timeUnixNano: "1700000000002500123" })).toBe(2.5);
    expect(eventOffsetMs(span, { timeUnixNano: "1699999999999000123" })).toBe(-1);
    expect(eventOffsetMs(span, { timeUnixNano: "not a number" })).toBeNaN();
  });

  it("links to a span of a trace, keeping an admin's tenant", () => {
    expect(spanHref("a".repeat(32), "b".repeat(16), undefined)).toBe(`/traces/${"a".repeat(32)}?span=${"b".repeat(16)}#span-${"b".repeat(16)}`);
    expect(spanHref("a".repeat(32), "b".repeat(16), "acme co")).toBe(`/traces/${"a".repeat(32)}?span=${"b".repeat(16)}&tenant=acme+co#span-${"b".repeat(16)}`);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JsonTokens, NOT_TAKEN } from "./json-tokens.js";

/** Whether the tokenizer reads `bytes` as one JSON value and nothing else. */
function tokensAccept(bytes: Buffer): boolean {
  const t = new JsonTokens(bytes);
  try {
    t.skipValue();
    t.finish();
    return true;
  } catch (err) {
    if (err !== NOT_TAKEN) throw err;
    return false;
  }
}

function parseAccepts(bytes: Buffer): boolean {
  try {
    JSON.parse(bytes.toString("utf8"));
    return true;
  } catch {
    return false;
  }
}

/** JSON texts with every kind of token, whitespace and escape, then damaged in small ways. */
const jsonText = fc.oneof(
  fc.json({ depthSize: "small" }),
  fc.jsonValue().map((v) => JSON.stringify(v, null, 2)),
  fc.string({ unit: "binary" }).map((s) => JSON.stringify([s, { [s]: s }])),
);
const damaged = fc.tuple(jsonText, fc.nat(), fc.constantFrom("", '"', "\\", "\\u12", "\\x", ",", "}", "]", "-", ".", "e", "0", "01", "\u0001", "\t", "\u2028", "nul", "\uD800")).map(([text, at, insert]) => {
  const i = text.length === 0 ? 0 : at % text.length;
  return text.slice(0, i) + insert + text.slice(i + (insert === "" ? 1 : 0));
});

describe("JsonTokens", () => {
  it("reads exactly the texts JSON.parse reads", () => {
    fc.assert(
      fc.property(fc.oneof(jsonText, damaged), (text) => {
        const bytes = Buffer.from(text, "utf8");
        expect(tokensAccept(bytes)).toBe(parseAccepts(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it("reads bytes that are not UTF-8 as JSON.parse reads the text Buffer#toString makes of them", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), fc.constantFrom('["', '{"k":"', "["), (noise, prefix) => {
        const bytes = Buffer.concat([Buffer.from(prefix), Buffer.from(noise), Buffer.from(prefix.startsWith("{") ? '"}' : prefix === "[" ? "]" : '"]')]);
        expect(tokensAccept(bytes)).toBe(parseAccepts(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it("decodes strings exactly as JSON.parse does: escapes, surrogates, invalid UTF-8", () => {
    const escaped = fc.string({ unit: "binary" }).map((s) =>
      // Every character escaped in some way JSON allows, sometimes.
      [...s].map((c, i) => (i % 3 === 0 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}` : JSON.stringify(c).slice(1, -1))).join(""),
    );
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary" }).map((s) => JSON.stringify(s).slice(1, -1)), escaped, fc.constantFrom("\\ud83d\\ude00", "\\ud800x", "\\/\\b\\f\\n\\r\\t", "é\\\"ü")), (inner) => {
        const bytes = Buffer.from(`"${inner}"`, "utf8");
        const t = new JsonTokens(bytes);
        t.string();
        t.finish();
        expect(t.text()).toBe(JSON.parse(bytes.toString("utf8")));
      }),
      { numRuns: 2000 },
    );
    // Invalid UTF-8 inside a string: U+FFFD where Buffer#toString puts it, escapes or not.
    for (const raw of [Buffer.from([0x22, 0xe2, 0x82, 0x5c, 0x6e, 0xff, 0x61, 0xc3, 0x22]), Buffer.from([0x22, 0xf0, 0x9f, 0x98, 0x22])]) {
      const t = new JsonTokens(raw);
      t.string();
      expect(t.text()).toBe(JSON.parse(raw.toString("utf8")));
    }
  });

  it("leaves values nested past its depth to JSON.parse", () => {
    const deep = Buffer.from("[".repeat(100) + "]".repeat(100));
    expect(parseAccepts(deep)).toBe(true);
    expect(tokensAccept(deep)).toBe(false);
    expect(tokensAccept(Buffer.from("[".repeat(60) + "]".repeat(60)))).toBe(true);
  });
});

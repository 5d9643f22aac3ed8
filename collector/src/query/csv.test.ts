import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { csvCell, toCsv } from "./csv.js";

/** A minimal RFC 4180 parser, to check that what we write reads back. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else cell += ch;
  }
  return rows;
}

describe("CSV", () => {
  it("quotes separators, quotes and line breaks", () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell("line\nbreak")).toBe('"line\nbreak"');
    expect(csvCell(null)).toBe("");
    expect(csvCell(["a", "b"])).toBe("a;b");
  });

  it("defuses spreadsheet formulas, but leaves numbers alone", () => {
    for (const f of ["=HYPERLINK(\"x\")", "+1", "-1+1", "@SUM(A1)", "\tx", "\rx"]) expect(csvCell(f).replace(/^"/, "").startsWith("'")).toBe(true);
    expect(csvCell("=1,2")).toBe(`"'=1,2"`);
    expect(csvCell(-5)).toBe("-5");
    expect(csvCell(0.25)).toBe("0.25");
    expect(csvCell(Number.NaN)).toBe("");
  });

  it("round-trips any strings (with the formula prefix added where needed)", () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.string(), { minLength: 2, maxLength: 2 }), { maxLength: 10 }), (rows) => {
        const parsed = parseCsv(toCsv(["a", "b"], rows));
        expect(parsed[0]).toEqual(["a", "b"]);
        const expected = rows.map((r) => r.map((v) => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v)));
        expect(parsed.slice(1)).toEqual(expected);
      }),
    );
  });
});

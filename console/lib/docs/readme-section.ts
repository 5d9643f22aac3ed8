// One section of the repository's README as simple blocks (headings, paragraphs, lists, code), for
// the console's help pages. Pure functions: the caller reads the file.

/** A block of a README section. */
export type DocBlock =
  | { kind: "heading"; level: number; text: string }
  | { kind: "paragraph"; text: string }
  | { kind: "list"; items: string[] }
  | { kind: "code"; text: string }
  | { kind: "table"; rows: string[][] };

/**
 * The blocks of the `## <title>` section (up to the next heading of level 2 or above), or null when
 * the README has no such section.
 */
export function readmeSection(markdown: string, title: string): DocBlock[] | null {
  const lines = markdown.split(/\r?\n/);
  const start = lines.findIndex((l) => /^##\s+/.test(l) && l.replace(/^##\s+/, "").trim().toLowerCase() === title.toLowerCase());
  if (start < 0) return null;
  let end = lines.findIndex((l, i) => i > start && /^#{1,2}\s/.test(l));
  if (end < 0) end = lines.length;
  const blocks: DocBlock[] = [];
  let i = start + 1;
  while (i < end) {
    const line = lines[i]!;
    if (line.trim() === "") {
      i++;
    } else if (line.startsWith("```")) {
      const code: string[] = [];
      for (i++; i < end && !lines[i]!.startsWith("```"); i++) code.push(lines[i]!);
      blocks.push({ kind: "code", text: code.join("\n") });
      i++;
    } else if (/^#{3,6}\s/.test(line)) {
      blocks.push({ kind: "heading", level: line.indexOf(" "), text: line.replace(/^#+\s+/, "") });
      i++;
    } else if (/^\s*[-*]\s/.test(line)) {
      const items: string[] = [];
      while (i < end && lines[i]!.trim() !== "" && !lines[i]!.startsWith("```")) {
        if (/^\s*[-*]\s/.test(lines[i]!)) items.push(lines[i]!.replace(/^\s*[-*]\s+/, ""));
        else items[items.length - 1] += ` ${lines[i]!.trim()}`;
        i++;
      }
      blocks.push({ kind: "list", items });
    } else if (line.startsWith("|")) {
      const rows: string[][] = [];
      for (; i < end && lines[i]!.startsWith("|"); i++) {
        const cells = lines[i]!.split("|").slice(1, -1).map((c) => c.trim());
        if (!cells.every((c) => /^:?-+:?$/.test(c))) rows.push(cells);
      }
      blocks.push({ kind: "table", rows });
    } else {
      const text: string[] = [];
      for (; i < end && lines[i]!.trim() !== "" && !/^(```|#|\s*[-*]\s|\|)/.test(lines[i]!); i++) text.push(lines[i]!.trim());
      blocks.push({ kind: "paragraph", text: text.join(" ") });
    }
  }
  return blocks;
}

/** Splits text at inline code spans: odd entries are code. */
export function inlineCode(text: string): string[] {
  return text.split("`");
}

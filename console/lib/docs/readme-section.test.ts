import { describe, expect, it } from "vitest";
import { readmeSection } from "./readme-section";

describe("README sections", () => {
  const md = ["# Troupe", "intro", "## Control plane", "", "Runtimes follow", "their tenants.", "", "- one", "- two", "  continued", "", "```ts", "followControlPlane({})", "```", "### Check-ins", "| a | b |", "|---|---|", "| 1 | 2 |", "## Next", "other"].join("\n");

  it("reads one section up to the next one, as blocks", () => {
    expect(readmeSection(md, "control plane")).toEqual([
      { kind: "paragraph", text: "Runtimes follow their tenants." },
      { kind: "list", items: ["one", "two continued"] },
      { kind: "code", text: "followControlPlane({})" },
      { kind: "heading", level: 3, text: "Check-ins" },
      { kind: "table", rows: [["a", "b"], ["1", "2"]] },
    ]);
    expect(readmeSection(md, "Missing")).toBeNull();
  });
});

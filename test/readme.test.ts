import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// The README is part of the product: its runtime example must run as printed, and the commands and
// variables it names must exist.
const root = join(import.meta.dirname, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");

describe("README", () => {
  it("its runtime example runs as printed", async () => {
    const snippet = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(snippet, "a ```ts example").toBeDefined();
    const dir = mkdtempSync(join(root, "test", ".readme-"));
    try {
      const file = join(dir, "example.ts");
      // Run the snippet as a module and hand back what it computed.
      writeFileSync(file, `${snippet}\nexport { reply };\n`);
      const { reply } = (await import(file)) as { reply: unknown };
      expect(reply).toBe("hello Ada from acme");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("shows the two-command quickstart", () => {
    expect(readme).toContain("npm ci && npm start");
    expect(readme).toContain("npm test");
  });

  it("names only troupe subcommands that exist", () => {
    const cli = readFileSync(join(root, "bin/troupe.mjs"), "utf8");
    for (const [, sub] of readme.matchAll(/`troupe ([a-z][a-z-]*)/g)) expect(cli, `troupe ${sub}`).toContain(`command("${sub}`);
  });
});

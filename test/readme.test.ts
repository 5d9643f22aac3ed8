import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { deleteDistributedNamespace } from "@troupe/runtime";
import { describe, expect, it } from "vitest";
import { NATS } from "./distributed-harness.js";

// The README is part of the product: its runtime example must run as printed, and the commands and
// variables it names must exist.
const root = join(import.meta.dirname, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");
// The full variable table lives in docs/configuration.md, which the README links.
const configurationDoc = readFileSync(join(root, "docs", "configuration.md"), "utf8");

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

  it("its distributed example (a worker and a caller) runs as printed against the NATS server", async () => {
    const block = (file: string): string => {
      const code = new RegExp("```ts\\n(// " + file.replace(".", "\\.") + "[\\s\\S]*?)```").exec(readme)?.[1];
      expect(code, `a \`\`\`ts example starting with // ${file}`).toBeDefined();
      return code!;
    };
    const worker = block("worker.ts");
    const caller = block("caller.ts");
    expect(worker).toContain(`servers: "${NATS}"`);
    const nc = await connect({ servers: NATS });
    // The example's namespace is fixed; clear what an interrupted run may have left.
    await deleteDistributedNamespace(nc, "shop");
    const dir = mkdtempSync(join(root, "test", ".readme-"));
    let started: { worker: { stop(): Promise<void>; stats(): { handled: number } } } | undefined;
    try {
      writeFileSync(join(dir, "worker.ts"), `${worker}\nexport { worker };\n`);
      writeFileSync(join(dir, "caller.ts"), `${caller}\nexport { greeting };\n`);
      started = (await import(join(dir, "worker.ts"))) as NonNullable<typeof started>;
      const { greeting } = (await import(join(dir, "caller.ts"))) as { greeting: unknown };
      expect(greeting).toMatch(/^hello Ada from acme \(TROUPE_SHOP:\d+\)$/);
      expect(started.worker.stats().handled).toBe(1);
    } finally {
      await started?.worker.stop();
      await deleteDistributedNamespace(nc, "shop");
      await nc.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it("shows the two-command quickstart", () => {
    expect(readme).toContain("npm ci && npm start");
    expect(readme).toContain("npm test");
  });

  it("links every page in docs/, and every relative link of the README and the docs reaches a file", () => {
    const pages = readdirSync(join(root, "docs")).filter((name) => name.endsWith(".md"));
    for (const page of pages) expect(readme, `README links docs/${page}`).toContain(`](docs/${page})`);
    const documents: [string, string][] = [["README.md", readme], ...pages.map((page): [string, string] => [`docs/${page}`, readFileSync(join(root, "docs", page), "utf8")])];
    for (const [file, text] of documents) {
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue; // an external URL
        expect(existsSync(join(root, file, "..", target!)), `${file} links ${target}`).toBe(true);
      }
    }
  });

  it("names only troupe subcommands that exist", () => {
    const cli = readFileSync(join(root, "bin/troupe.mjs"), "utf8");
    for (const [, sub] of readme.matchAll(/`troupe ([a-z][a-z-]*)/g)) expect(cli, `troupe ${sub}`).toContain(`command("${sub}`);
  });
});

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (["node_modules", "dist", ".next"].includes(name)) return [];
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : /\.(ts|tsx|mjs)$/.test(name) && !name.includes(".test.") ? [path] : [];
  });
}

describe("README configuration reference", () => {
  it("links the full configuration reference", () => {
    expect(readme).toContain("](docs/configuration.md)");
  });

  it("documents every environment variable the code reads, in the README or docs/configuration.md", () => {
    const internal = new Set(["TROUPE_PARENT_PID"]);
    const dirs = ["bin", "contract/src", "collector/src", "console/app", "console/lib", "runtime/src", "examples/src"].filter((d) => existsSync(join(root, d)));
    const code = dirs.flatMap((d) => sources(join(root, d))).map((f) => readFileSync(f, "utf8")).join("\n");
    const names = new Set([...code.matchAll(/\b(?:TROUPE|CLICKHOUSE|OPENAI)_[A-Z_]+\b/g)].map((m) => m[0]).filter((n) => !internal.has(n)));
    expect(names.size).toBeGreaterThan(10);
    for (const name of names) expect(`${readme}\n${configurationDoc}`, `${name} is documented nowhere`).toContain(name);
  });
});

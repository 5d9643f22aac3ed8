import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

// No Docker engine runs on the build machines, so this checks what can be checked without one:
// the file parses, images are pinned, every environment name is a real config key of the project
// (read somewhere by its entry points) and documented, and the ports line up.

const root = join(import.meta.dirname, "..");
type Service = {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
};
const compose = parse(readFileSync(join(root, "docker-compose.yml"), "utf8"), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const services = compose.services;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (["node_modules", "dist", ".next", "test-results"].includes(name)) return [];
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : /\.(ts|tsx|mjs|js)$/.test(name) && !/\.test\.tsx?$/.test(name) ? [path] : [];
  });
}
const code = ["bin", "collector/src", "console", "runtime/src"].flatMap((dir) => sourceFiles(join(root, dir))).map((file) => readFileSync(file, "utf8")).join("\n");
// Documented means in the README or in the configuration reference it links.
const documentation = ["README.md", "docs/configuration.md"].map((file) => readFileSync(join(root, file), "utf8")).join("\n");

describe("docker-compose.yml", () => {
  it("has the services of the full stack", () => {
    expect(Object.keys(services).sort()).toEqual(["clickhouse", "collector", "console", "demo", "jaeger"]);
  });

  it("pins every image to a version", () => {
    for (const [name, service] of Object.entries(services)) {
      if (!service.image || service.image.startsWith("troupe:")) continue; // built from this repository
      const [, tag] = service.image.split(":");
      expect(tag, `${name} image ${service.image}`).toMatch(/^\d+\.\d+(\.\d+)*/);
    }
    expect(services.clickhouse?.image).toMatch(/^clickhouse\/clickhouse-server:/);
    expect(services.jaeger?.image).toMatch(/^jaegertracing\/all-in-one:/);
  });

  it("uses only environment names the project reads, and documents them", () => {
    const thirdParty = new Set(["CLICKHOUSE_DB", "CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD", "CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT", "COLLECTOR_OTLP_ENABLED"]);
    for (const name of ["collector", "console", "demo"]) {
      for (const key of Object.keys(services[name]?.environment ?? {})) {
        expect(code, `${name}: ${key} is read by the code`).toContain(key);
        expect(documentation, `${name}: ${key} is documented in README.md or docs/configuration.md`).toContain(key);
      }
    }
    for (const key of Object.keys(services.clickhouse?.environment ?? {})) expect(thirdParty.has(key), key).toBe(true);
  });

  it("runs only troupe subcommands that exist", () => {
    const cli = readFileSync(join(root, "bin/troupe.mjs"), "utf8");
    for (const name of ["collector", "console", "demo"]) {
      const sub = services[name]?.command?.[0];
      expect(cli, `${name} runs "troupe ${sub}"`).toContain(`.command("${sub}")`);
    }
  });

  it("lines up ports and URLs between services", () => {
    const collector = services.collector!;
    const collectorPort = collector.environment!.TROUPE_COLLECTOR_PORT;
    expect(collector.ports).toContain(`${collectorPort}:${collectorPort}`);
    expect(collector.environment!.TROUPE_COLLECTOR_URL ?? "").toMatch(new RegExp(`^http://collector:${collectorPort}$`));
    for (const name of ["console", "demo"]) expect(services[name]!.environment!.TROUPE_COLLECTOR_URL).toBe(`http://collector:${collectorPort}`);
    expect(collector.environment!.CLICKHOUSE_URL).toBe("http://clickhouse:8123");
    expect(collector.environment!.TROUPE_FORWARD_OTLP_ENDPOINT).toBe("http://jaeger:4318/v1/traces");
    const consolePort = services.console!.environment!.TROUPE_CONSOLE_PORT;
    expect(services.console!.ports).toContain(`${consolePort}:${consolePort}`);
    expect(services.console!.healthcheck!.test.join(" ")).toContain(`127.0.0.1:${consolePort}/`);
    expect(collector.healthcheck!.test.join(" ")).toContain(`127.0.0.1:${collectorPort}/readyz`);
  });

  it("declares the volumes it mounts and waits on health", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(":")[0]!;
        expect(Object.keys(compose.volumes), `${name} mounts ${source}`).toContain(source);
      }
      for (const [dep, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(Object.keys(services)).toContain(dep);
        if (condition === "service_healthy") expect(services[dep]!.healthcheck, `${dep} has a health check`).toBeDefined();
      }
    }
  });

  it("builds the image the other services run", () => {
    expect(services.collector!.build).toBe(".");
    for (const name of ["console", "demo"]) expect(services[name]!.image).toBe(services.collector!.image);
    expect(readFileSync(join(root, "Dockerfile"), "utf8")).toMatch(/^FROM node:20[\w.-]*/m);
  });

  it("starts the collector in the image with the Node flags `troupe start` gives it", async () => {
    const { COLLECTOR_NODE_FLAGS } = (await import(join(root, "bin/lib/config.mjs"))) as { COLLECTOR_NODE_FLAGS: readonly string[] };
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(join(root, "Dockerfile"), "utf8"))?.[1];
    expect(JSON.parse(entrypoint ?? "null")).toEqual(["node", ...COLLECTOR_NODE_FLAGS, "bin/troupe.mjs"]);
  });
});

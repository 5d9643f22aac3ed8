import { defineConfig } from "vitest/config";

// One runner for every package. The `source` condition makes workspace packages resolve to their
// TypeScript sources, so tests never run against a stale build.
export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["contract/src/**/*.test.ts", "runtime/src/**/*.test.ts", "collector/src/**/*.test.ts", "examples/src/**/*.test.ts", "console/**/*.test.{ts,tsx}", "test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**", "console/.next/**"],
    globalSetup: ["test/global-setup.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ["default", "json"],
    outputFile: { json: "test-results/vitest.json" },
  },
});

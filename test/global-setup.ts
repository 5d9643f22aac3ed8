import { spawnSync } from "node:child_process";
import { join } from "node:path";

// Builds once, before any test file runs: the TypeScript packages (tests that spawn `troupe` run the
// built code) and the console (several test files serve it; building it from two at once would
// corrupt .next). Both steps are skipped when nothing changed.
export function setup(): void {
  const root = join(import.meta.dirname, "..");
  const script = "const m = await import('./bin/lib/build.mjs'); m.ensurePackagesBuilt(); m.ensureConsoleBuilt();";
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, stdio: "inherit", timeout: 15 * 60_000 });
  if (result.status !== 0) throw new Error(`building before the tests failed (exit ${result.status ?? result.signal})`);
}

// The cross-tenant attack suite as a table: every attempt names its surface, the attack and the
// expected refusal; running it records what was observed. Each test file prints its table at the end
// and writes it to test-results/isolation/<file>.json (one file each: test files run in parallel).
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, it } from "vitest";

/** One row of the printed table. */
export interface AttemptRow {
  surface: string;
  attack: string;
  expected: string;
  /** "refused" when every assertion held, "FAILED" otherwise (a leak or a wrong answer). */
  outcome: "refused" | "FAILED";
  /** What actually happened: the error code or status seen, or the failed assertion. */
  observed: string;
}

const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "test-results", "isolation");

/**
 * Declares a table of attempts for one surface. `attempt(attack, expected, run)` registers one test:
 * `run` performs the attack, asserts with `expect` that it was refused and leaked nothing, and
 * returns a short description of what it observed. The table is printed in afterAll.
 */
export function attemptTable(file: string): (surface: string, attack: string, expected: string, run: () => Promise<string>, timeoutMs?: number) => void {
  const rows: AttemptRow[] = [];
  afterAll(() => {
    const refused = rows.filter((r) => r.outcome === "refused").length;
    console.log(`\n${file}: ${refused} of ${rows.length} attempts refused as expected`);
    console.table(rows.map((r) => ({ surface: r.surface, attack: r.attack, expected: r.expected, outcome: r.outcome, observed: r.observed.slice(0, 90) })));
    saveRows(file, rows);
  });
  return (surface, attack, expected, run, timeoutMs) => {
    it(`[${surface}] ${attack}`, async () => {
      try {
        const observed = await run();
        rows.push({ surface, attack, expected, outcome: "refused", observed });
      } catch (err) {
        rows.push({ surface, attack, expected, outcome: "FAILED", observed: err instanceof Error ? err.message.split("\n")[0]! : String(err) });
        throw err;
      }
    }, timeoutMs);
  };
}

function saveRows(file: string, rows: AttemptRow[]): void {
  try {
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, `${file}.json`), JSON.stringify(rows, null, 2));
  } catch {
    // The printed table is the record; the file is a convenience.
  }
}

/** The innermost cause of an error (HandlerError wraps what the handler threw). */
export function rootCause(err: unknown): unknown {
  let e = err;
  while (e instanceof Error && e.cause !== undefined) e = e.cause;
  return e;
}

/** "Name(CODE): message" of an error, for the observed column. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return `${err.name}${typeof code === "string" ? `(${code})` : ""}: ${err.message}`;
}

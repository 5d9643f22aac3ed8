import pg from "pg";

/**
 * Runs `op` back to back on `concurrency` workers until `durationMs` has passed (each worker finishes
 * the operation it started) and returns how many completed, per second of wall time.
 */
export async function closedLoop(concurrency: number, durationMs: number, op: (worker: number, i: number) => Promise<void>): Promise<{ count: number; perS: number }> {
  let count = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = 0; performance.now() < deadline; i++) {
        await op(worker, i);
        count++;
      }
    }),
  );
  return { count, perS: count / ((performance.now() - started) / 1_000) };
}

/** Drops a scratch schema a benchmark created on the PostgreSQL server at `url`, with everything in it. */
export async function dropPostgresSchema(url: string, schema: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await admin.end();
  }
}

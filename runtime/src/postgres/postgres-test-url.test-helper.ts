// The PostgreSQL server of the storage contract tests. The test suite's global setup makes sure it
// runs (test/support/services/test-postgres.ts, which reads the same variable): the machine's server
// on 127.0.0.1:5432, or an embedded one it starts there.

/** The tests' database when TROUPE_TEST_PG_URL is not set: user postgres, trusted, database `test`. */
export const DEFAULT_POSTGRES_TEST_URL = "postgres://postgres@127.0.0.1:5432/test";

/**
 * The URL the PostgreSQL contract tests connect to: `env.TROUPE_TEST_PG_URL` (a test-only variable,
 * e.g. an embedded server on another port) or DEFAULT_POSTGRES_TEST_URL. Takes the environment as a
 * parameter: only test files read process.env.
 */
export function postgresTestUrl(env: Readonly<Record<string, string | undefined>>): string {
  return env.TROUPE_TEST_PG_URL ?? DEFAULT_POSTGRES_TEST_URL;
}

/** One numbered schema change. Its statements are idempotent (IF NOT EXISTS), so a half-applied migration can be re-run. */
export interface Migration {
  /** Strictly increasing; recorded in schema_migrations once applied. */
  version: number;
  name: string;
  statements: readonly string[];
}

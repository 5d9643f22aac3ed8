import { PostgresTable, type PostgresTableOptions } from "../postgres/postgres-table.js";
import { assertBlobKey } from "./blob-store.js";
import type { BlobStore } from "./blob-store.js";

/** Options of PostgresBlobStore (the table defaults to `troupe_agent_state`). */
export type PostgresBlobStoreOptions = PostgresTableOptions;

/**
 * A BlobStore in a PostgreSQL table `(key text primary key, value bytea, updated_at timestamptz)`,
 * created if missing. A put is one `INSERT ... ON CONFLICT DO UPDATE` statement, atomic by itself.
 */
export class PostgresBlobStore implements BlobStore {
  readonly #table: PostgresTable;

  constructor(options: PostgresBlobStoreOptions) {
    this.#table = new PostgresTable("PostgresBlobStore", options, "troupe_agent_state", (t) => [
      `CREATE TABLE IF NOT EXISTS ${t} (key text PRIMARY KEY, value bytea NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`,
    ]);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    assertBlobKey(key);
    await this.#table.ready();
    const result = await this.#table.pool.query<{ value: Buffer }>(`SELECT value FROM ${this.#table.qualified} WHERE key = $1`, [key]);
    return result.rows[0]?.value;
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    assertBlobKey(key);
    await this.#table.ready();
    await this.#table.pool.query(
      `INSERT INTO ${this.#table.qualified} (key, value, updated_at) VALUES ($1, $2, now()) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
      [key, Buffer.from(value.buffer, value.byteOffset, value.byteLength)],
    );
  }

  async delete(key: string): Promise<void> {
    assertBlobKey(key);
    await this.#table.ready();
    await this.#table.pool.query(`DELETE FROM ${this.#table.qualified} WHERE key = $1`, [key]);
  }

  async close(): Promise<void> {
    await this.#table.close();
  }
}

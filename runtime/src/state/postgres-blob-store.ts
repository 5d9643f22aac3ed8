import pg from "pg";
import { assertBlobKey } from "./blob-store.js";
import type { BlobStore } from "./blob-store.js";

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Options of PostgresBlobStore: a pool you own, or connection settings for one it creates. */
export interface PostgresBlobStoreOptions {
  /** An existing pool (not ended by close()). */
  readonly pool?: pg.Pool;
  /** Used when no pool is given, e.g. `postgres://postgres@127.0.0.1:5432/test`. */
  readonly connectionString?: string;
  /** Pool size when the store creates the pool. Default 10. */
  readonly maxConnections?: number;
  /** Table name (lowercase identifier). Default `troupe_agent_state`. */
  readonly table?: string;
  /** Schema the table lives in (created if missing). Default `public`. */
  readonly schema?: string;
}

/**
 * A BlobStore in a PostgreSQL table `(key text primary key, value bytea, updated_at timestamptz)`,
 * created if missing. A put is one `INSERT ... ON CONFLICT DO UPDATE` statement, atomic by itself.
 */
export class PostgresBlobStore implements BlobStore {
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #qualified: string;
  readonly #schema: string;
  #ready: Promise<void> | undefined;

  constructor(options: PostgresBlobStoreOptions) {
    const table = options.table ?? "troupe_agent_state";
    const schema = options.schema ?? "public";
    for (const [what, name] of [["table", table], ["schema", schema]] as const) {
      if (!IDENTIFIER.test(name)) throw new TypeError(`PostgresBlobStore ${what} must be a lowercase identifier (letters, digits, "_"); got ${JSON.stringify(name)}`);
    }
    if (!options.pool && !options.connectionString) throw new TypeError("PostgresBlobStore needs a pool or a connectionString");
    this.#pool = options.pool ?? new pg.Pool({ connectionString: options.connectionString, max: options.maxConnections ?? 10 });
    this.#ownsPool = !options.pool;
    this.#schema = schema;
    this.#qualified = `"${schema}"."${table}"`;
  }

  #init(): Promise<void> {
    this.#ready ??= (async () => {
      if (this.#schema !== "public") await this.#pool.query(`CREATE SCHEMA IF NOT EXISTS "${this.#schema}"`);
      await this.#pool.query(
        `CREATE TABLE IF NOT EXISTS ${this.#qualified} (key text PRIMARY KEY, value bytea NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`,
      );
    })().catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    assertBlobKey(key);
    await this.#init();
    const result = await this.#pool.query<{ value: Buffer }>(`SELECT value FROM ${this.#qualified} WHERE key = $1`, [key]);
    return result.rows[0]?.value;
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    assertBlobKey(key);
    await this.#init();
    await this.#pool.query(
      `INSERT INTO ${this.#qualified} (key, value, updated_at) VALUES ($1, $2, now()) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
      [key, Buffer.from(value.buffer, value.byteOffset, value.byteLength)],
    );
  }

  async delete(key: string): Promise<void> {
    assertBlobKey(key);
    await this.#init();
    await this.#pool.query(`DELETE FROM ${this.#qualified} WHERE key = $1`, [key]);
  }

  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.end();
  }
}

import pg from "pg";

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Where a PostgreSQL-backed store keeps its table: a pool you own, or connection settings for one it creates. */
export interface PostgresTableOptions {
  /** An existing pool (not ended by close()). */
  readonly pool?: pg.Pool;
  /** Used when no pool is given, e.g. `postgres://postgres@127.0.0.1:5432/test`. */
  readonly connectionString?: string;
  /** Pool size when the store creates the pool. Default 10. */
  readonly maxConnections?: number;
  /** Table name (lowercase identifier). Each store has its own default. */
  readonly table?: string;
  /** Schema the table lives in (created if missing). Default `public`. */
  readonly schema?: string;
}

/**
 * One store's table: validates its names (lowercase identifiers only, so they can be quoted into
 * SQL), owns or borrows the pool, and creates the schema and table once, on first use; a failed
 * creation is tried again by the next use.
 */
export class PostgresTable {
  readonly pool: pg.Pool;
  /** `"schema"."table"`, safe to put into SQL text. */
  readonly qualified: string;
  readonly #ownsPool: boolean;
  readonly #schema: string;
  readonly #ddl: (qualified: string) => readonly string[];
  #ready: Promise<void> | undefined;

  /** `store` names the store in errors; `ddl` gives the statements that create the table if missing. */
  constructor(store: string, options: PostgresTableOptions, defaultTable: string, ddl: (qualified: string) => readonly string[]) {
    const table = options.table ?? defaultTable;
    const schema = options.schema ?? "public";
    for (const [what, name] of [["table", table], ["schema", schema]] as const) {
      if (!IDENTIFIER.test(name)) throw new TypeError(`${store} ${what} must be a lowercase identifier (letters, digits, "_"); got ${JSON.stringify(name)}`);
    }
    if (!options.pool && !options.connectionString) throw new TypeError(`${store} needs a pool or a connectionString`);
    this.pool = options.pool ?? new pg.Pool({ connectionString: options.connectionString, max: options.maxConnections ?? 10 });
    this.#ownsPool = !options.pool;
    this.#schema = schema;
    this.qualified = `"${schema}"."${table}"`;
    this.#ddl = ddl;
  }

  /** Resolves once the schema and table exist. */
  ready(): Promise<void> {
    // CREATE ... IF NOT EXISTS races with itself (two processes starting together: a duplicate key
    // error in the catalog), so creation holds a transaction-scoped advisory lock.
    this.#ready ??= this.#transaction(async (client) => {
      await client.query("SELECT pg_advisory_xact_lock(hashtext('troupe.postgres-table'))");
      if (this.#schema !== "public") await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.#schema}"`);
      for (const statement of this.#ddl(this.qualified)) await client.query(statement);
    }).catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  /** Runs `work` in one transaction on one connection of the pool, once the table exists; rolled back if it throws. */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.ready();
    return this.#transaction(work);
  }

  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Ends the pool if this table created it. */
  async close(): Promise<void> {
    if (this.#ownsPool) await this.pool.end();
  }
}

/** Values bound to `{name:Type}` placeholders. Never spliced into SQL text. */
export type QueryParams = Readonly<Record<string, string | number | bigint | boolean | null | readonly (string | number)[]>>;

/** Options of a gateway insert. */
export interface InsertOptions {
  /**
   * ClickHouse `insert_deduplication_token`: inserting again with the same token (a retry of the
   * same batch) writes nothing, on engines and tables that keep a deduplication window.
   */
  dedupToken?: string;
  /** Further ClickHouse settings of this insert (names and values from code, never from a request). */
  settings?: Readonly<Record<string, string | number>>;
}

/**
 * Insert settings for tables that materialized views read: a retry that the raw table drops as a
 * repeat of its token still reaches each view, whose table then holds what the interrupted first
 * attempt may not have written there (an insert is not atomic across a table and its views). The
 * default of the chDB engine Troupe ships (26.x); a server of an older version may default to 0.
 */
export const RETRIES_REACH_VIEWS: Readonly<Record<string, number>> = { deduplicate_blocks_in_dependent_materialized_views: 1 };

/** Rows already encoded in a ClickHouse input format that carries its column types (Native blocks), columns in `columns` order. */
export interface FormattedRows {
  format: "Native";
  columns: readonly string[];
  /** The bytes, as one buffer or as parts to send in order. */
  payload: Buffer | readonly Buffer[];
}

/**
 * The one door to ClickHouse (embedded chDB or a server). Guarantees: every statement is sent with
 * its parameters bound server-side through `{name:Type}` placeholders, so no value from a request is
 * ever part of the SQL text; 64-bit integers come back as decimal strings (exact), other numbers as
 * numbers. Implementations are safe to call concurrently.
 */
export interface ClickHouseGateway {
  /** Which engine is behind this gateway. */
  readonly engine: "chdb" | "server";
  /** Runs a SELECT and returns its rows (one object per row, keyed by column alias). */
  query<T = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<T[]>;
  /** Runs a statement that returns no rows (DDL, INSERT ... SELECT, ALTER). */
  command(sql: string, params?: QueryParams): Promise<void>;
  /** Inserts rows (objects keyed by column name) into `table` as JSONEachRow. */
  insert(table: string, rows: readonly Record<string, unknown>[], options?: InsertOptions): Promise<void>;
  /**
   * Inserts pre-encoded rows as they are (the engine parses them; nothing is re-encoded in JS).
   * Same deduplication and settings semantics as `insert`.
   */
  insertFormatted(table: string, rows: FormattedRows, options?: InsertOptions): Promise<void>;
  /** Releases the connection. Idempotent. */
  close(): Promise<void>;
}

/** Table names the gateway accepts for `insert`: a fixed identifier, never request data. */
export const TABLE_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

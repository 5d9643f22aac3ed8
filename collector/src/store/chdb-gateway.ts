import { Session } from "chdb";
import { CollectorError } from "../errors.js";
import { TABLE_NAME_PATTERN, type ClickHouseGateway, type FormattedRows, type InsertOptions, type QueryParams } from "./clickhouse-gateway.js";

/** Options of the embedded gateway. */
export interface ChdbGatewayOptions {
  /** Persistent data directory (created if missing). One per process: chDB allows a single open directory. */
  dataDir: string;
}

/**
 * A ClickHouseGateway on embedded chDB, persistent in `dataDir`. Queries run off the event loop
 * (chDB's async API). Only one may be open per process; close it before opening another.
 */
export function createChdbGateway(options: ChdbGatewayOptions): ClickHouseGateway {
  let session: Session | null;
  try {
    session = new Session(options.dataDir);
  } catch (err) {
    throw new CollectorError("store_unavailable", `cannot open the chDB data directory: ${(err as Error).message}`, { cause: err });
  }

  const open = (): Session => {
    if (!session) throw new CollectorError("store_unavailable", "the chDB gateway is closed");
    return session;
  };

  return {
    engine: "chdb",

    async query<T>(sql: string, params: QueryParams = {}): Promise<T[]> {
      const result = await wrap(() => open().queryBindAsync(sql, params, { format: "JSONEachRow" }));
      return parseJsonEachRow<T>(result.text());
    },

    async command(sql: string, params: QueryParams = {}): Promise<void> {
      await wrap(() => open().queryBindAsync(sql, params, { format: "Null" }));
    },

    async insert(table: string, rows: readonly Record<string, unknown>[], insertOptions: InsertOptions = {}): Promise<void> {
      if (!TABLE_NAME_PATTERN.test(table)) throw new CollectorError("internal", `invalid table name ${JSON.stringify(table)}`);
      if (rows.length === 0) return;
      const payload = Buffer.from(rows.map((r) => JSON.stringify(r)).join("\n") + "\n", "utf8");
      await wrap(() => open().insert({ table, values: payload, format: "JSONEachRow", settings: insertSettings(insertOptions) }));
    },

    async insertFormatted(table: string, rows: FormattedRows, insertOptions: InsertOptions = {}): Promise<void> {
      if (!TABLE_NAME_PATTERN.test(table)) throw new CollectorError("internal", `invalid table name ${JSON.stringify(table)}`);
      if (rows.payload.length === 0) return;
      // Raw passthrough: the Buffer goes to the engine zero-copy and is parsed on chDB's own thread.
      await wrap(() => open().insert({ table, values: rows.payload, format: rows.format, columns: rows.columns, settings: insertSettings(insertOptions) }));
    },

    async close(): Promise<void> {
      session?.close();
      session = null;
    },
  };
}

function insertSettings(options: InsertOptions): Record<string, string | number> {
  const settings: Record<string, string | number> = { ...options.settings };
  if (options.dedupToken !== undefined) settings.insert_deduplication_token = options.dedupToken;
  return settings;
}

/** Parses JSONEachRow text (one JSON object per line). */
export function parseJsonEachRow<T>(text: string): T[] {
  const rows: T[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    if (end > start) rows.push(JSON.parse(text.slice(start, end)) as T);
    start = end + 1;
  }
  return rows;
}

async function wrap<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof CollectorError) throw err;
    // The engine's message can quote SQL: keep it as the cause for logs, never in the HTTP answer.
    throw new CollectorError("internal", `chDB query failed: ${(err as Error).message}`, { cause: err });
  }
}

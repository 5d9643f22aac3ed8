import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { CollectorError } from "../errors.js";
import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { TABLE_NAME_PATTERN, type ClickHouseGateway, type FormattedRows, type InsertOptions, type QueryParams } from "./clickhouse-gateway.js";

/** Connection settings of a ClickHouse server (from CLICKHOUSE_URL and friends, read by the entry point). */
export interface ServerGatewayOptions {
  url: string;
  username?: string;
  password?: string;
  database?: string;
  /** Per-request timeout; default 30 s. */
  requestTimeoutMs?: number;
}

/**
 * A ClickHouseGateway on a ClickHouse server over HTTP (@clickhouse/client). Network and server
 * failures surface as CollectorError "store_unavailable"; rejected statements as "internal".
 */
export function createServerGateway(options: ServerGatewayOptions): ClickHouseGateway {
  const client: ClickHouseClient = createClient({
    url: options.url,
    username: options.username ?? "default",
    password: options.password ?? "",
    database: options.database ?? "default",
    request_timeout: options.requestTimeoutMs ?? 30_000,
  });
  return createClientGateway(client);
}

/**
 * A ClickHouseGateway over any @clickhouse/client instance (the server gateway's implementation;
 * also lets the same code path run on chDB's `chdb/connection` in tests). Owns and closes the client.
 */
export function createClientGateway(client: ClickHouseClient): ClickHouseGateway {
  let closed = false;

  return {
    engine: "server",

    async query<T>(sql: string, params: QueryParams = {}): Promise<T[]> {
      return wrap(async () => {
        const rs = await client.query({ query: sql, query_params: params, format: "JSONEachRow" });
        return rs.json<T>();
      });
    },

    async command(sql: string, params: QueryParams = {}): Promise<void> {
      await wrap(() => client.command({ query: sql, query_params: params }));
    },

    async insert(table: string, rows: readonly Record<string, unknown>[], insertOptions: InsertOptions = {}): Promise<void> {
      if (!TABLE_NAME_PATTERN.test(table)) throw new CollectorError("internal", `invalid table name ${JSON.stringify(table)}`);
      if (rows.length === 0) return;
      await wrap(() =>
        client.insert({
          table,
          values: rows as Record<string, unknown>[],
          format: "JSONEachRow",
          clickhouse_settings: insertSettings(insertOptions),
        }),
      );
    },

    async insertFormatted(table: string, rows: FormattedRows, insertOptions: InsertOptions = {}): Promise<void> {
      if (!TABLE_NAME_PATTERN.test(table)) throw new CollectorError("internal", `invalid table name ${JSON.stringify(table)}`);
      const parts = Buffer.isBuffer(rows.payload) ? [rows.payload] : rows.payload;
      if (parts.every((p) => p.length === 0) || rows.columns.length === 0) return;
      if (!rows.columns.every((c) => TABLE_NAME_PATTERN.test(c))) throw new CollectorError("internal", "invalid column name in an insert");
      await wrap(async () => {
        // exec with a raw body: the client sends the bytes as they are (its insert() would want row objects for JSON formats).
        const result = await client.exec({
          query: `INSERT INTO ${table} (${rows.columns.join(", ")}) FORMAT ${rows.format}`,
          values: Readable.from(parts, { objectMode: false }),
          clickhouse_settings: insertSettings(insertOptions),
        });
        result.stream.resume();
        await finished(result.stream);
      });
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await client.close();
    },
  };
}

function insertSettings(options: InsertOptions): Record<string, string | number> {
  const settings: Record<string, string | number> = { ...options.settings };
  if (options.dedupToken !== undefined) settings.insert_deduplication_token = options.dedupToken;
  return settings;
}

async function wrap<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const e = err as Error & { code?: string; type?: string };
    // A server error carries a ClickHouse error type; anything else is the network or the server being down.
    if (e.type !== undefined || /DB::Exception/.test(e.message ?? "")) {
      throw new CollectorError("internal", `ClickHouse rejected a statement: ${e.message}`, { cause: err });
    }
    throw new CollectorError("store_unavailable", `ClickHouse server unreachable: ${e.message}`, { cause: err, retryAfterS: 5 });
  }
}

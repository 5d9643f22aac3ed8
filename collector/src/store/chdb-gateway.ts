import { randomUUID } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { open, unlink } from "node:fs/promises";
import { join } from "node:path";
import { Session } from "chdb";
import { CollectorError } from "../errors.js";
import { TABLE_NAME_PATTERN, type ClickHouseGateway, type FormattedRows, type InsertOptions, type QueryParams } from "./clickhouse-gateway.js";

/** Options of the embedded gateway. */
export interface ChdbGatewayOptions {
  /** Persistent data directory (created if missing). One per process: chDB allows a single open directory. */
  dataDir: string;
}

/** Scratch files of `insertFormatted`, under the data directory (emptied at open: leftovers of a crash). */
const INSERT_SCRATCH_DIR = "troupe-insert-scratch";

/** A setting name in an INSERT's SETTINGS clause (names come from code; checked anyway). */
const SETTING_NAME_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

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
  const scratchDir = join(options.dataDir, INSERT_SCRATCH_DIR);
  rmSync(scratchDir, { recursive: true, force: true });
  mkdirSync(scratchDir, { recursive: true });
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
      if (!rows.columns.every((c) => TABLE_NAME_PATTERN.test(c))) throw new CollectorError("internal", "invalid column name in an insert");
      const parts = Buffer.isBuffer(rows.payload) ? [rows.payload] : rows.payload;
      if (parts.every((p) => p.length === 0) || rows.columns.length === 0) return;
      // The engine reads the rows from a file (file() table function): chDB's raw insert would parse
      // the payload as part of the query text, at about three times the CPU. Native blocks carry
      // their column types, so the file needs no structure.
      const params: Record<string, string | number> = {};
      const settings = Object.entries(insertSettings(insertOptions)).map(([name, value], i) => {
        if (!SETTING_NAME_PATTERN.test(name)) throw new CollectorError("internal", `invalid setting name ${JSON.stringify(name)}`);
        if (typeof value === "number" && Number.isFinite(value)) return `${name} = ${value}`;
        params[`setting${i}`] = String(value);
        return `${name} = {setting${i}:String}`;
      });
      const file = join(scratchDir, `${randomUUID()}.${rows.format}`);
      params.path = file;
      try {
        await writeParts(file, parts).catch((err: unknown) => {
          throw new CollectorError("store_unavailable", `cannot write an insert file: ${(err as Error).message}`, { cause: err, retryAfterS: 5 });
        });
        await wrap(() =>
          open().queryBindAsync(
            `INSERT INTO ${table} (${rows.columns.join(", ")}) ${settings.length > 0 ? `SETTINGS ${settings.join(", ")} ` : ""}` +
              `SELECT * FROM file({path:String}, ${rows.format})`,
            params,
            { format: "Null" },
          ),
        );
      } finally {
        await unlink(file).catch(() => undefined);
      }
    },

    async close(): Promise<void> {
      session?.close();
      session = null;
    },
  };
}

/** Writes the parts to a new file in order (one gathered write, no joined copy). */
async function writeParts(file: string, parts: readonly Buffer[]): Promise<void> {
  const handle = await open(file, "w");
  try {
    let at = 0;
    // writev takes at most IOV_MAX (1024) buffers at a time.
    for (let i = 0; i < parts.length; i += 1024) {
      const chunk = parts.slice(i, i + 1024);
      const { bytesWritten } = await handle.writev(chunk, at);
      const expected = chunk.reduce((n, p) => n + p.length, 0);
      if (bytesWritten !== expected) throw new Error(`short write: ${bytesWritten} of ${expected} bytes`);
      at += bytesWritten;
    }
  } finally {
    await handle.close();
  }
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

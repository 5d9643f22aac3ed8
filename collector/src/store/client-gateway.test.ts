import { mkdtempSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { createClient } from "@clickhouse/client";
import { createChdbConnection, type Connection } from "chdb/connection";
import { runMigrations } from "./migrate.js";
import { createClientGateway } from "./server-gateway.js";
import { describeSpanStoreContract } from "./store.contract.js";

// The server gateway's code path (@clickhouse/client: bound query_params, insert settings, result
// parsing) run on the real engine through chDB's @clickhouse/client connection, so it is exercised
// even where no ClickHouse server is available.
describeSpanStoreContract("@clickhouse/client over chdb/connection", async () => {
  const dir = mkdtempSync(join(tmpdir(), "troupe-chdb-client-"));
  // chdb/connection implements the Connection of its own copy of @clickhouse/client-common: the same shape, another declaration.
  const connection = withBinaryInsertBodies(createChdbConnection({ path: dir }), dir) as unknown as NonNullable<Parameters<typeof createClient>[0]>["connection"];
  const gateway = createClientGateway(createClient({ connection }));
  await runMigrations(gateway);
  return {
    gateway,
    dispose: async () => {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

/**
 * chdb/connection reads an exec body as UTF-8 text and appends it to the SQL, which corrupts binary
 * formats (a server reads the HTTP body as bytes). So an `INSERT ... FORMAT Native` whose bytes the
 * client sent is handed to the engine as a server would see it: the same bytes, read from a file.
 * Everything up to the connection (query text, settings, body) is the gateway's own.
 */
function withBinaryInsertBodies(inner: Connection<Readable>, dir: string): Connection<Readable> {
  let n = 0;
  return {
    ping: (params) => inner.ping(params),
    query: (params) => inner.query(params),
    insert: (params) => inner.insert(params),
    command: (params) => inner.command(params),
    close: () => inner.close(),
    async exec(params) {
      const native = /^(INSERT INTO \w+ \([\w, ]+\)) FORMAT Native$/.exec(params.query);
      if (native === null || params.values === undefined) return inner.exec(params);
      const file = join(dir, `body-${n++}.native`);
      await writeFile(file, await buffer(params.values as Readable));
      const { values: _body, ...rest } = params;
      return inner.exec({ ...rest, query: `${native[1]} SELECT * FROM file('${file}', Native)` });
    },
  };
}

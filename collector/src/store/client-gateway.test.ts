import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@clickhouse/client";
import { createChdbConnection } from "chdb/connection";
import { runMigrations } from "./migrate.js";
import { createClientGateway } from "./server-gateway.js";
import { describeSpanStoreContract } from "./store.contract.js";

// The server gateway's code path (@clickhouse/client: bound query_params, insert settings, result
// parsing) run on the real engine through chDB's @clickhouse/client connection, so it is exercised
// even where no ClickHouse server is available.
describeSpanStoreContract("@clickhouse/client over chdb/connection", async () => {
  const dir = mkdtempSync(join(tmpdir(), "troupe-chdb-client-"));
  const gateway = createClientGateway(createClient({ connection: createChdbConnection({ path: dir }) }));
  await runMigrations(gateway);
  return {
    gateway,
    dispose: async () => {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

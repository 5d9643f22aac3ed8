import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ClickHouseGateway } from "./clickhouse-gateway.js";
import { openClickHouse } from "./open-clickhouse.js";

/** A migrated chDB gateway in a fresh temporary directory, and how to dispose of both (tests only). */
export async function openTempChdb(): Promise<{ gateway: ClickHouseGateway; dispose: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "troupe-chdb-"));
  const gateway = await openClickHouse({ kind: "chdb", dataDir: dir });
  return {
    gateway,
    dispose: async () => {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

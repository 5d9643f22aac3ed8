import { createChdbGateway } from "./chdb-gateway.js";
import type { ClickHouseGateway } from "./clickhouse-gateway.js";
import { runMigrations } from "./migrate.js";
import { createServerGateway, type ServerGatewayOptions } from "./server-gateway.js";

/** Where the data lives: embedded chDB in a directory, or a ClickHouse server. */
export type ClickHouseTarget = { kind: "chdb"; dataDir: string } | ({ kind: "server" } & ServerGatewayOptions);

/**
 * Opens the gateway for a target and brings the schema up to date (migrations are idempotent).
 * The caller owns the gateway and closes it.
 */
export async function openClickHouse(target: ClickHouseTarget): Promise<ClickHouseGateway> {
  const gateway = target.kind === "chdb" ? createChdbGateway({ dataDir: target.dataDir }) : createServerGateway(target);
  try {
    await runMigrations(gateway);
  } catch (err) {
    await gateway.close();
    throw err;
  }
  return gateway;
}

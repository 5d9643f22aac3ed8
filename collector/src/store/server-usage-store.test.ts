import { randomBytes } from "node:crypto";
import { openClickHouse } from "./open-clickhouse.js";
import { createServerGateway } from "./server-gateway.js";
import { describeUsageStoreContract } from "./usage-store.contract.js";

// Runs against a real ClickHouse server only when CLICKHOUSE_URL is set (see server-span-store.test.ts).
const url = process.env.CLICKHOUSE_URL;
const auth = { username: process.env.CLICKHOUSE_USER ?? "default", password: process.env.CLICKHOUSE_PASSWORD ?? "" };

describeUsageStoreContract(
  "ClickHouse server",
  async () => {
    const database = `troupe_test_${randomBytes(6).toString("hex")}`;
    const admin = createServerGateway({ url: url!, ...auth });
    await admin.command(`CREATE DATABASE ${database}`);
    const gateway = await openClickHouse({ kind: "server", url: url!, ...auth, database });
    return {
      gateway,
      dispose: async () => {
        await gateway.close();
        await admin.command(`DROP DATABASE IF EXISTS ${database}`);
        await admin.close();
      },
    };
  },
  { skip: !url },
);

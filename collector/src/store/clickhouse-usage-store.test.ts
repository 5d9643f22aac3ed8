import { openTempChdb } from "./temp-chdb.test-helper.js";
import { describeUsageStoreContract } from "./usage-store.contract.js";

describeUsageStoreContract("embedded chDB", openTempChdb);

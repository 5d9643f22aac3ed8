import { describeSpanStoreContract } from "./store.contract.js";
import { openTempChdb } from "./temp-chdb.test-helper.js";

describeSpanStoreContract("embedded chDB", openTempChdb);

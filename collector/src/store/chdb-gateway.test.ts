import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createChdbGateway } from "./chdb-gateway.js";
import { LowCardinalityStringMapColumn, NativeWriter } from "./native-block.js";

const dir = mkdtempSync(join(tmpdir(), "troupe-chdb-gw-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("chDB gateway insertFormatted", () => {
  it("inserts Native blocks through a scratch file it removes, deduplicates by token, and clears a crash's leftovers at open", async () => {
    const scratch = join(dir, "troupe-insert-scratch");
    const first = createChdbGateway({ dataDir: dir });
    await first.command("CREATE TABLE t (id UInt8, s String, m Map(LowCardinality(String), String)) ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 100");
    await first.close();
    writeFileSync(join(scratch, "left-by-a-crash.Native"), "x");
    const gateway = createChdbGateway({ dataDir: dir });
    expect(readdirSync(scratch)).toEqual([]);
    const w = new NativeWriter();
    w.varUInt(3);
    w.varUInt(2);
    w.column("id", "UInt8");
    w.uint8(1);
    w.uint8(2);
    w.column("s", "String");
    w.string("a'\n\"b");
    w.string("");
    w.column("m", "Map(LowCardinality(String), String)");
    const m = new LowCardinalityStringMapColumn();
    m.keys.add("k");
    m.values.string("v");
    m.endRow();
    m.endRow(); // the second row's map is empty
    m.write(w);
    const rows = { format: "Native" as const, columns: ["id", "s", "m"], payload: w.finish() };
    await gateway.insertFormatted("t", rows, { dedupToken: "tok-1", settings: { optimize_on_insert: 0 } });
    await gateway.insertFormatted("t", rows, { dedupToken: "tok-1" });
    expect(await gateway.query("SELECT id, s, m FROM t ORDER BY id")).toEqual([
      { id: 1, s: "a'\n\"b", m: { k: "v" } },
      { id: 2, s: "", m: {} },
    ]);
    expect(readdirSync(scratch)).toEqual([]);
    await expect(gateway.insertFormatted("t", { ...rows, columns: ["id", "nope"] })).rejects.toMatchObject({ code: "internal" });
    await gateway.close();
  });
});

import type { Migration } from "./migration.js";

/**
 * New parts of the spans table are compact (one data file for every column) until merges take
 * them past 128 MiB, where they become wide (a file per column stream). A wide spans part is 157
 * files; a batch of a few thousand spans wrote and fsynced all of them, and each merge wrote them
 * again and deleted the old ones, which made file creation (the filesystem's inode search) about a
 * fifth of the collector's CPU under load. A compact part is 15 files. Large, merged parts, which
 * queries over long ranges read, stay wide.
 */
export const migration0010: Migration = {
  version: 10,
  name: "compact_span_parts",
  statements: ["ALTER TABLE spans MODIFY SETTING min_bytes_for_wide_part = 134217728"],
};

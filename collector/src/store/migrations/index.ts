import type { Migration } from "./migration.js";
import { migration0001 } from "./0001_spans.js";
import { migration0002 } from "./0002_tenants_keys_audit.js";
import { migration0003 } from "./0003_ended_sessions.js";
import { migration0004 } from "./0004_usage_records.js";
import { migration0005 } from "./0005_control_plane.js";
import { migration0006 } from "./0006_budget_alerts.js";
import { migration0007 } from "./0007_faithful_spans.js";
import { migration0008 } from "./0008_rollups.js";
import { migration0009 } from "./0009_usage_recent.js";
import { migration0010 } from "./0010_compact_span_parts.js";

/** Every migration, in the order they apply. Append new ones; never edit an applied one. */
export const MIGRATIONS: readonly Migration[] = [migration0001, migration0002, migration0003, migration0004, migration0005, migration0006, migration0007, migration0008, migration0009, migration0010];

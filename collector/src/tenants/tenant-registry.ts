import { createHash, timingSafeEqual } from "node:crypto";
import { isTenantId, TENANT_TIERS as TIERS, UNSET_BUDGETS, UNSET_QUOTAS, UNSET_RATE_LIMITS } from "@troupe/contract";
import { CollectorError } from "../errors.js";
import type { ApiKeyInfo, IssuedKey, RevokeKeyResponse, TenantKeyKind, TenantRecord } from "@troupe/contract/query-api";
import type { TenantTier } from "@troupe/contract";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { toClickHouseDateTime } from "../store/clickhouse-time.js";
import { DEFAULT_RETENTION_DAYS } from "../store/clickhouse-span-store.js";
import { generateKeyId, generateSecret, hashSecret, SECRET_PATTERN } from "./api-key.js";
import type { KeyAuthenticator, KeyKind, Principal } from "./principal.js";
import { applyTenantPatch, checkTenant, type TenantSettingsInput } from "./tenant-checks.js";
import { DEFAULT_ALERT_THRESHOLDS, TENANT_COLUMNS, toTenantRecord, toTenantRow, type TenantDbRow } from "./tenant-rows.js";

/** Tiers a tenant can be put in. */
export const TENANT_TIERS: readonly TenantTier[] = TIERS;

/** The shortest admin key accepted (it guards every tenant). */
export const MIN_ADMIN_KEY_LENGTH = 16;

/** What a new tenant is made of (validated by the caller's edge, checked again here); unset settings are unmanaged, thresholds 0.8 and 0.95. */
export interface NewTenant extends TenantSettingsInput {
  id: string;
}

/** A change to a tenant: every field optional; budgets, quotas and rate limits merge field by field (null clears one). */
export type TenantPatch = TenantSettingsInput;

/** Told about a tenant just created or changed on this instance (its new record). */
export type SettingsChangeListener = (tenant: TenantRecord) => void;

/** Options of the registry. */
export interface TenantRegistryOptions {
  /** The operator key (TROUPE_ADMIN_KEY, passed in by the entry point); none disables admin access. */
  adminKey?: string;
  /** How long an authenticated key stays cached; default 30 s. Revocation here clears the cache at once. */
  keyCacheTtlMs?: number;
  /** Most keys cached; the oldest go first. Default 10,000. */
  maxCachedKeys?: number;
  /** How long a tenant's settings (retention) stay cached; default 10 s. */
  tenantCacheTtlMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * Tenants, their settings and their API keys, stored in ClickHouse. Guarantees: secrets are never
 * stored (only their SHA-256) nor logged, and are returned once, at issue; keys are compared in
 * constant time; a revoked or rotated key stops authenticating on this instance at once (other
 * instances within `keyCacheTtlMs`); every change is recorded in `audit_log` with its actor.
 */
export interface TenantRegistry extends KeyAuthenticator {
  /** Creates a tenant; a bad setting is refused naming its field, and nothing is stored. */
  createTenant(input: NewTenant, actor?: string): Promise<TenantRecord>;
  getTenant(id: string): Promise<TenantRecord | null>;
  /** Every tenant, or those of `ids` that exist; by id. Read fresh (never cached). */
  listTenants(ids?: readonly string[]): Promise<TenantRecord[]>;
  /** Changes a tenant; a bad setting is refused naming its field, and nothing is changed. */
  updateTenant(id: string, patch: TenantPatch, actor?: string): Promise<TenantRecord>;
  /**
   * Calls `listener` after each tenant create or update made through this instance, once it is
   * stored (changes made by another instance are seen only through `settingsVersions`). Returns the
   * unsubscribe function. A listener that throws is ignored.
   */
  onSettingsChanged(listener: SettingsChangeListener): () => void;
  /** The highest settings version among `ids` (all tenants when omitted) as stored; 0 when none exist. One small query, seeing every instance's changes. */
  maxSettingsVersion(ids?: readonly string[]): Promise<number>;
  /** The settings version of each of `ids` that exists, as stored (every instance's changes). */
  settingsVersions(ids: readonly string[]): Promise<Map<string, number>>;
  /** Issues a new key of this kind; with `rotate`, revokes the tenant's other active keys of that kind. */
  issueKey(tenantId: string, kind: TenantKeyKind, options?: { rotate?: boolean; actor?: string }): Promise<{ key: IssuedKey; revokedKeyIds: string[] }>;
  /** `issueKey` with `rotate: true`. */
  rotateKey(tenantId: string, kind: TenantKeyKind, actor?: string): Promise<{ key: IssuedKey; revokedKeyIds: string[] }>;
  /** A service ingest key allowed to write exactly these (existing) tenants. */
  issueServiceKey(allowedTenants: readonly string[], actor?: string): Promise<IssuedKey>;
  revokeKey(keyId: string, actor?: string): Promise<RevokeKeyResponse>;
  /** Keys without secrets; of one tenant (including service keys allowed to write it) or all. */
  listKeys(tenantId?: string): Promise<ApiKeyInfo[]>;
  /** The tenant's retention in days (the default when the tenant is unknown). Cached. */
  retentionDaysOf(tenantId: string): Promise<number>;
}

interface KeyDbRow {
  key_id: string;
  secret_hash: string;
  kind: string;
  tenant_id: string;
  allowed_tenants: string[];
  created_ms: number | string;
  revoked_ms: number | string | null;
}

const KEY_COLUMNS = `key_id, secret_hash, kind, tenant_id, allowed_tenants, toUnixTimestamp64Milli(created_at) AS created_ms,
  if(revoked_at IS NULL, NULL, toUnixTimestamp64Milli(assumeNotNull(revoked_at))) AS revoked_ms`;

/** Creates the registry over a migrated gateway. */
export function createTenantRegistry(gateway: ClickHouseGateway, options: TenantRegistryOptions = {}): TenantRegistry {
  const now = options.now ?? Date.now;
  const keyCacheTtlMs = options.keyCacheTtlMs ?? 30_000;
  const maxCachedKeys = options.maxCachedKeys ?? 10_000;
  const tenantCacheTtlMs = options.tenantCacheTtlMs ?? 10_000;
  if (options.adminKey !== undefined && options.adminKey.length < MIN_ADMIN_KEY_LENGTH) {
    throw new CollectorError("bad_request", `the admin key must be at least ${MIN_ADMIN_KEY_LENGTH} characters`);
  }
  const adminDigest = options.adminKey !== undefined ? sha256(options.adminKey) : null;

  const keyCache = new Map<string, { principal: Principal | null; expiresAt: number }>();
  const tenantCache = new Map<string, { tenant: TenantRecord | null; expiresAt: number }>();
  const listeners = new Set<SettingsChangeListener>();
  let lastVersion = 0;
  let chain: Promise<unknown> = Promise.resolve();

  /** Mutations run one at a time, so check-then-write (create, rotate) cannot interleave here. */
  function serialized<T>(run: () => Promise<T>): Promise<T> {
    const next = chain.then(run, run);
    chain = next.catch(() => undefined);
    return next;
  }

  function nextVersion(floor = 0): number {
    lastVersion = Math.max(lastVersion + 1, now() * 1000, floor + 1);
    return lastVersion;
  }

  async function maxStoredVersion(ids?: readonly string[]): Promise<number> {
    if (ids !== undefined && ids.length === 0) return 0;
    // The newest row of a tenant carries its highest version, so no FINAL is needed.
    const rows =
      ids === undefined
        ? await gateway.query<{ v: number | string }>("SELECT max(version) AS v FROM tenants")
        : await gateway.query<{ v: number | string }>("SELECT max(version) AS v FROM tenants WHERE id IN {ids:Array(String)}", { ids: [...ids] });
    return Number(rows[0]?.v ?? 0);
  }

  async function audit(actor: string, action: string, target: string, details: Record<string, unknown>): Promise<void> {
    await gateway.insert("audit_log", [{ at: toClickHouseDateTime(now()), actor, action, target, details: JSON.stringify(details) }]);
  }

  async function readTenant(id: string): Promise<TenantRecord | null> {
    if (!isTenantId(id)) return null;
    const rows = await gateway.query<TenantDbRow>(`SELECT ${TENANT_COLUMNS} FROM tenants FINAL WHERE id = {id:String}`, { id });
    const tenant = rows[0] ? toTenantRecord(rows[0]) : null;
    tenantCache.set(id, { tenant, expiresAt: now() + tenantCacheTtlMs });
    return tenant;
  }

  /** Stores the record under a new version and returns it as stored (with that settingsVersion). */
  async function writeTenant(t: TenantRecord): Promise<TenantRecord> {
    // Above every stored version, whichever instance wrote it: a clock behind another instance's
    // must not give a change a version lower than one a runtime has already seen.
    const stored: TenantRecord = { ...t, settingsVersion: nextVersion(await maxStoredVersion()) };
    await gateway.insert("tenants", [toTenantRow(stored, stored.settingsVersion)]);
    tenantCache.set(t.id, { tenant: stored, expiresAt: now() + tenantCacheTtlMs });
    return stored;
  }

  function announce(tenant: TenantRecord): void {
    for (const listener of [...listeners]) {
      try {
        listener(tenant);
      } catch {
        // A listener's failure is its own: the change is stored and the others still hear of it.
      }
    }
  }

  async function writeKey(row: { keyId: string; secretHash: string; kind: KeyKind; tenantId: string; allowedTenants: readonly string[]; createdMs: number; revokedMs: number | null }): Promise<void> {
    await gateway.insert("api_keys", [
      {
        key_id: row.keyId,
        secret_hash: row.secretHash,
        kind: row.kind,
        tenant_id: row.tenantId,
        allowed_tenants: row.allowedTenants,
        created_at: toClickHouseDateTime(row.createdMs),
        revoked_at: row.revokedMs === null ? null : toClickHouseDateTime(row.revokedMs),
        version: nextVersion(),
      },
    ]);
  }

  async function readKeys(where: string, params: Record<string, string>): Promise<KeyDbRow[]> {
    return gateway.query<KeyDbRow>(`SELECT ${KEY_COLUMNS} FROM api_keys FINAL WHERE ${where} ORDER BY created_at, key_id`, params);
  }

  async function mintKey(kind: KeyKind, tenantId: string, allowedTenants: readonly string[]): Promise<IssuedKey> {
    const secret = generateSecret(kind);
    const keyId = generateKeyId();
    const createdMs = now();
    await writeKey({ keyId, secretHash: hashSecret(secret), kind, tenantId, allowedTenants, createdMs, revokedMs: null });
    return { keyId, kind, tenantId, allowedTenants: [...allowedTenants], secret, createdAt: new Date(createdMs).toISOString() };
  }

  async function revokeRow(row: KeyDbRow, revokedMs: number): Promise<void> {
    await writeKey({
      keyId: row.key_id,
      secretHash: row.secret_hash,
      kind: row.kind as KeyKind,
      tenantId: row.tenant_id,
      allowedTenants: row.allowed_tenants,
      createdMs: Number(row.created_ms),
      revokedMs,
    });
  }

  function requireExisting(tenant: TenantRecord | null, id: string): TenantRecord {
    if (!tenant) throw new CollectorError("not_found", `tenant ${JSON.stringify(id)} does not exist`);
    return tenant;
  }

  const registry: TenantRegistry = {
    async authenticate(secret: string): Promise<Principal | null> {
      const digest = sha256(secret);
      if (adminDigest && timingSafeEqual(digest, adminDigest)) return { kind: "admin", keyId: "admin" };
      if (!SECRET_PATTERN.test(secret)) return null;
      const hash = digest.toString("hex");
      const cached = keyCache.get(hash);
      if (cached && cached.expiresAt > now()) return cached.principal;
      const rows = await readKeys("secret_hash = {hash:String}", { hash });
      let principal: Principal | null = null;
      for (const row of rows) {
        const stored = Buffer.from(row.secret_hash, "hex");
        if (stored.length !== digest.length || !timingSafeEqual(stored, digest)) continue;
        if (row.revoked_ms !== null) continue;
        principal = toPrincipal(row);
      }
      if (keyCache.size >= maxCachedKeys) {
        const oldest = keyCache.keys().next();
        if (!oldest.done) keyCache.delete(oldest.value);
      }
      keyCache.set(hash, { principal, expiresAt: now() + (principal ? keyCacheTtlMs : Math.min(keyCacheTtlMs, 5_000)) });
      return principal;
    },

    createTenant(input: NewTenant, actor = "system"): Promise<TenantRecord> {
      return serialized(async () => {
        if (!isTenantId(input.id)) throw new CollectorError("bad_request", `tenant id ${JSON.stringify(String(input.id).slice(0, 80))} is invalid: use 1-63 lowercase letters, digits, "_" and "-", starting with a letter or digit`);
        if (await readTenant(input.id)) throw new CollectorError("conflict", `tenant ${JSON.stringify(input.id)} already exists`);
        const at = new Date(now()).toISOString();
        const { id: _id, ...settings } = input;
        const tenant = applyTenantPatch(
          {
            id: input.id,
            name: input.id,
            tier: "shared",
            retentionDays: DEFAULT_RETENTION_DAYS,
            budgets: { ...UNSET_BUDGETS },
            quotas: { ...UNSET_QUOTAS },
            rateLimits: { ...UNSET_RATE_LIMITS },
            samplingRatio: null,
            alerts: { thresholds: [...DEFAULT_ALERT_THRESHOLDS] },
            settingsVersion: 0,
            createdAt: at,
            updatedAt: at,
          },
          settings,
        );
        checkTenant(tenant);
        const stored = await writeTenant(tenant);
        announce(stored);
        const { id: _i, name: _n, createdAt: _c, updatedAt: _u, settingsVersion: _v, ...details } = stored;
        await audit(actor, "tenant.create", stored.id, details);
        return stored;
      });
    },

    async getTenant(id: string): Promise<TenantRecord | null> {
      return readTenant(id);
    },

    async listTenants(ids?: readonly string[]): Promise<TenantRecord[]> {
      if (ids !== undefined && ids.length === 0) return [];
      const rows =
        ids === undefined
          ? await gateway.query<TenantDbRow>(`SELECT ${TENANT_COLUMNS} FROM tenants FINAL ORDER BY id`)
          : await gateway.query<TenantDbRow>(`SELECT ${TENANT_COLUMNS} FROM tenants FINAL WHERE id IN {ids:Array(String)} ORDER BY id`, { ids: [...ids] });
      return rows.map(toTenantRecord);
    },

    updateTenant(id: string, patch: TenantPatch, actor = "system"): Promise<TenantRecord> {
      return serialized(async () => {
        const current = requireExisting(await readTenant(id), id);
        const updated = applyTenantPatch(current, patch);
        updated.updatedAt = new Date(Math.max(now(), Date.parse(current.updatedAt) + 1)).toISOString();
        checkTenant(updated);
        const stored = await writeTenant(updated);
        announce(stored);
        if (stored.retentionDays < current.retentionDays) {
          // Rows already stored carry the old retention in their TTL: delete what the shorter one no longer keeps.
          await gateway.command(
            `DELETE FROM spans WHERE tenant_id = {tenant:String} AND start_time < now64(9) - toIntervalDay({days:UInt16})`,
            { tenant: id, days: stored.retentionDays },
          );
          await gateway.command(
            `DELETE FROM usage_records WHERE tenant_id = {tenant:String} AND time < now64(3) - toIntervalDay({days:UInt16})`,
            { tenant: id, days: stored.retentionDays },
          );
        }
        await audit(actor, "tenant.update", id, { patch });
        return stored;
      });
    },

    issueKey(tenantId: string, kind: TenantKeyKind, issueOptions: { rotate?: boolean; actor?: string } = {}) {
      return serialized(async () => {
        if (kind !== "ingest" && kind !== "console") throw new CollectorError("bad_request", `key kind must be "ingest" or "console"`);
        requireExisting(await readTenant(tenantId), tenantId);
        const key = await mintKey(kind, tenantId, []);
        const revokedKeyIds: string[] = [];
        if (issueOptions.rotate) {
          const revokedMs = now();
          const active = await readKeys("tenant_id = {tenant:String} AND kind = {kind:String} AND revoked_at IS NULL", { tenant: tenantId, kind });
          for (const row of active) {
            if (row.key_id === key.keyId) continue;
            await revokeRow(row, revokedMs);
            revokedKeyIds.push(row.key_id);
          }
          keyCache.clear();
        }
        await audit(issueOptions.actor ?? "system", issueOptions.rotate ? "key.rotate" : "key.issue", tenantId, { kind, keyId: key.keyId, revokedKeyIds });
        return { key, revokedKeyIds };
      });
    },

    rotateKey(tenantId: string, kind: TenantKeyKind, actor?: string) {
      return registry.issueKey(tenantId, kind, { rotate: true, ...(actor !== undefined ? { actor } : {}) });
    },

    issueServiceKey(allowedTenants: readonly string[], actor = "system"): Promise<IssuedKey> {
      return serialized(async () => {
        const unique = [...new Set(allowedTenants)].sort();
        if (unique.length === 0) throw new CollectorError("bad_request", "allowedTenants must name at least one tenant");
        for (const id of unique) requireExisting(await readTenant(id), id);
        const key = await mintKey("service", "", unique);
        await audit(actor, "key.issue_service", "", { keyId: key.keyId, allowedTenants: unique });
        return key;
      });
    },

    revokeKey(keyId: string, actor = "system"): Promise<RevokeKeyResponse> {
      return serialized(async () => {
        const rows = await readKeys("key_id = {keyId:String}", { keyId });
        const row = rows[0];
        if (!row) throw new CollectorError("not_found", `key ${JSON.stringify(keyId.slice(0, 80))} does not exist`);
        const revokedMs = row.revoked_ms !== null ? Number(row.revoked_ms) : now();
        if (row.revoked_ms === null) await revokeRow(row, revokedMs);
        keyCache.clear();
        await audit(actor, "key.revoke", row.tenant_id, { keyId });
        return { keyId, revokedAt: new Date(revokedMs).toISOString() };
      });
    },

    async listKeys(tenantId?: string): Promise<ApiKeyInfo[]> {
      const rows =
        tenantId === undefined
          ? await readKeys("1", {})
          : await readKeys("tenant_id = {tenant:String} OR has(allowed_tenants, {tenant:String})", { tenant: tenantId });
      return rows.map(toKeyInfo);
    },

    onSettingsChanged(listener: SettingsChangeListener): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    maxSettingsVersion(ids?: readonly string[]): Promise<number> {
      return maxStoredVersion(ids);
    },

    async settingsVersions(ids: readonly string[]): Promise<Map<string, number>> {
      if (ids.length === 0) return new Map();
      const rows = await gateway.query<{ id: string; v: number | string }>(
        "SELECT id, max(version) AS v FROM tenants WHERE id IN {ids:Array(String)} GROUP BY id",
        { ids: [...ids] },
      );
      return new Map(rows.map((r) => [r.id, Number(r.v)]));
    },

    async retentionDaysOf(tenantId: string): Promise<number> {
      const cached = tenantCache.get(tenantId);
      const tenant = cached && cached.expiresAt > now() ? cached.tenant : await readTenant(tenantId);
      return tenant?.retentionDays ?? DEFAULT_RETENTION_DAYS;
    },
  };
  return registry;
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

function toPrincipal(row: KeyDbRow): Principal | null {
  switch (row.kind) {
    case "ingest":
      return { kind: "tenant-ingest", keyId: row.key_id, tenantId: row.tenant_id };
    case "console":
      return { kind: "console", keyId: row.key_id, tenantId: row.tenant_id };
    case "service":
      return { kind: "service-ingest", keyId: row.key_id, allowedTenants: row.allowed_tenants };
    default:
      return null;
  }
}

function toKeyInfo(row: KeyDbRow): ApiKeyInfo {
  return {
    keyId: row.key_id,
    kind: row.kind as ApiKeyInfo["kind"],
    tenantId: row.tenant_id,
    allowedTenants: row.allowed_tenants,
    createdAt: new Date(Number(row.created_ms)).toISOString(),
    revokedAt: row.revoked_ms === null ? null : new Date(Number(row.revoked_ms)).toISOString(),
  };
}

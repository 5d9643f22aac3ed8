import { CollectorError } from "../errors.js";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { toClickHouseDateTime } from "../store/clickhouse-time.js";
import { randomBase62 } from "../tenants/api-key.js";

/** A tenant's webhook as the sender needs it. The secret never leaves the collector but in the answer that creates it. */
export interface TenantWebhook {
  tenantId: string;
  url: string;
  /** `whsec_...`: signs every delivery. */
  secret: string;
  updatedAt: string;
}

/** The shape of a signing secret: `whsec_` and 43 base62 characters (≈ 256 bits). */
export const WEBHOOK_SECRET_PATTERN = /^whsec_[0-9A-Za-z]{43}$/;

/** A new signing secret. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBase62(43)}`;
}

/**
 * Each tenant's webhook (table tenant_webhooks). Guarantees: the secret is stored as is (signing
 * needs it; see migration 0006) and returned only by `get`, for the sender, and by `set`, for the
 * answer that shows it once; the latest `set` or `remove` wins, on every instance.
 */
export interface WebhookStore {
  get(tenantId: string): Promise<TenantWebhook | null>;
  /** Configures the tenant's webhook with a new secret (replacing any earlier one). */
  set(tenantId: string, url: string): Promise<TenantWebhook>;
  /** Removes the tenant's webhook; resolves false when there was none. */
  remove(tenantId: string): Promise<boolean>;
}

/** The WebhookStore on ClickHouse, through the gateway (which it does not close). */
export function createWebhookStore(gateway: ClickHouseGateway, options: { now?: () => number } = {}): WebhookStore {
  const now = options.now ?? Date.now;
  let lastVersion = 0;
  const nextVersion = (): number => (lastVersion = Math.max(lastVersion + 1, now() * 1000));
  const write = (tenantId: string, url: string, secret: string, atMs: number, deleted: boolean) =>
    gateway.insert("tenant_webhooks", [{ tenant_id: tenantId, url, secret, updated_at: toClickHouseDateTime(atMs), deleted: deleted ? 1 : 0, version: nextVersion() }]);

  const store: WebhookStore = {
    async get(tenantId) {
      const rows = await gateway.query<{ url: string; secret: string; updated_ms: number | string; deleted: number }>(
        `SELECT url, secret, toUnixTimestamp64Milli(updated_at) AS updated_ms, deleted FROM tenant_webhooks FINAL WHERE tenant_id = {tenant:String}`,
        { tenant: tenantId },
      );
      const row = rows[0];
      if (!row || Number(row.deleted) === 1) return null;
      return { tenantId, url: row.url, secret: row.secret, updatedAt: new Date(Number(row.updated_ms)).toISOString() };
    },

    async set(tenantId, url) {
      const atMs = now();
      const secret = generateWebhookSecret();
      try {
        await write(tenantId, url, secret, atMs, false);
      } catch {
        // The store's message could quote the row, secret included: it is not passed on.
        throw new CollectorError("store_unavailable", "storing the webhook failed; try again");
      }
      return { tenantId, url, secret, updatedAt: new Date(atMs).toISOString() };
    },

    async remove(tenantId) {
      const existing = await store.get(tenantId);
      if (!existing) return false;
      await write(tenantId, "", "", now(), true);
      return true;
    },
  };
  return store;
}

/**
 * Who is calling, decided from the key alone. The tenant of a tenant-scoped principal is never taken
 * from the request itself.
 */
export type Principal =
  /** Ingest key of one tenant: every span it sends belongs to that tenant. */
  | { kind: "tenant-ingest"; keyId: string; tenantId: string }
  /** Ingest key of a service (a runtime serving many tenants): may write only `allowedTenants`. */
  | { kind: "service-ingest"; keyId: string; allowedTenants: readonly string[] }
  /** Console key of one tenant: may read only that tenant's data. */
  | { kind: "console"; keyId: string; tenantId: string }
  /** Operator: every tenant, and the admin API. */
  | { kind: "admin"; keyId: string };

/** Key kinds a tenant or service can be issued. */
export type KeyKind = "ingest" | "console" | "service";

/** Resolves a bearer secret to its principal. Guarantees constant-time comparison of secrets. */
export interface KeyAuthenticator {
  /** The principal of this secret, or null when it is unknown or revoked. */
  authenticate(secret: string): Promise<Principal | null>;
}

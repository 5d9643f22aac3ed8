import type { AgentId } from "../agents/ids.js";
import { InvalidArgumentError, StateIntegrityError } from "../errors.js";
import type { TenantId } from "@troupe/contract";
import type { AgentStateStore } from "./agent-state-store.js";
import type { BlobStore } from "./blob-store.js";
import type { MasterKeyring } from "./master-keyring.js";
import { blobKeyVersion, deriveKeyMacKey, deriveTenantKey, openState, sealState, storageKey } from "./state-crypto.js";
import type { StateIdentity } from "./state-crypto.js";

/** Options of EncryptedStateStore. */
export interface EncryptedStateStoreOptions {
  readonly blobs: BlobStore;
  readonly keys: MasterKeyring;
  /** Derived per-tenant keys kept in memory. Default 10,000 (least recently used dropped). */
  readonly maxCachedTenantKeys?: number;
}

/**
 * AgentStateStore that encrypts every agent's state before it reaches the BlobStore.
 * - Location: HMAC-SHA256 (key derived from the master key) over the canonical length-prefixed
 *   encoding of (tenant, agent type, agent key): distinct identities never share a location, and
 *   the location reveals none of them.
 * - Value: JSON, AES-256-GCM under a per-tenant key HKDF(master key, tenant), random 96-bit nonce,
 *   with (header, tenant, agent type, agent key) as associated data. A blob moved under another
 *   tenant or agent, altered, or read with the wrong key fails with StateIntegrityError, never wrong data.
 * - Rotation: `load` looks under the newest key version first, then older ones. State found under
 *   an older version is decrypted with that key, re-encrypted under the newest, written to its new
 *   location and removed from the old one, so state migrates as agents are re-activated.
 * - Saving `undefined` deletes the state (so a later load returns undefined, as saved).
 */
export class EncryptedStateStore implements AgentStateStore {
  readonly #blobs: BlobStore;
  readonly #keys: MasterKeyring;
  readonly #macKeys = new Map<number, Buffer>();
  readonly #tenantKeys = new Map<string, Buffer>();
  readonly #maxCached: number;

  constructor(options: EncryptedStateStoreOptions) {
    this.#blobs = options.blobs;
    this.#keys = options.keys;
    this.#maxCached = options.maxCachedTenantKeys ?? 10_000;
    for (const version of options.keys.versions) this.#macKeys.set(version, deriveKeyMacKey(options.keys.key(version)!));
  }

  async load(tenant: TenantId, agent: AgentId): Promise<unknown> {
    const identity = toIdentity(tenant, agent);
    for (const version of this.#keys.versions) {
      const location = storageKey(this.#macKeys.get(version)!, identity);
      const blob = await this.#blobs.get(location);
      if (blob === undefined) continue;
      const blobVersion = blobKeyVersion(blob);
      if (blobVersion !== version) {
        throw new StateIntegrityError(`agent state of ${identity.agentType} is stored under key version ${version} but sealed under version ${blobVersion}`);
      }
      const state = this.#decode(identity, version, blob);
      if (version !== this.#keys.currentVersion) {
        await this.#write(identity, state);
        await this.#blobs.delete(location);
      }
      return state;
    }
    return undefined;
  }

  async save(tenant: TenantId, agent: AgentId, state: unknown): Promise<void> {
    const identity = toIdentity(tenant, agent);
    if (state === undefined) return this.delete(tenant, agent);
    await this.#write(identity, state);
  }

  async delete(tenant: TenantId, agent: AgentId): Promise<void> {
    const identity = toIdentity(tenant, agent);
    for (const version of this.#keys.versions) await this.#blobs.delete(storageKey(this.#macKeys.get(version)!, identity));
  }

  /** The storage location of an identity under the current key (for diagnostics and tests). */
  locationOf(tenant: string, agent: { type: string; key: string }): string {
    return storageKey(this.#macKeys.get(this.#keys.currentVersion)!, toIdentity(tenant, agent));
  }

  async #write(identity: StateIdentity, state: unknown): Promise<void> {
    let json: string | undefined;
    try {
      json = JSON.stringify(state);
    } catch (error) {
      throw new InvalidArgumentError(`agent state of ${identity.agentType} is not JSON-serializable: ${(error as Error).message}`, { cause: error });
    }
    if (json === undefined) throw new InvalidArgumentError(`agent state of ${identity.agentType} is not JSON-serializable (got ${typeof state})`);
    const version = this.#keys.currentVersion;
    const blob = sealState(this.#tenantKey(version, identity.tenant), version, identity, Buffer.from(json, "utf8"));
    await this.#blobs.put(storageKey(this.#macKeys.get(version)!, identity), blob);
  }

  #decode(identity: StateIdentity, version: number, blob: Uint8Array): unknown {
    const plaintext = openState(this.#tenantKey(version, identity.tenant), identity, blob);
    try {
      return JSON.parse(plaintext.toString("utf8"));
    } catch (error) {
      throw new StateIntegrityError(`agent state of ${identity.agentType} decrypted but is not valid JSON`, { cause: error });
    }
  }

  #tenantKey(version: number, tenant: string): Buffer {
    const cacheKey = `${version}\u0000${tenant}`;
    let key = this.#tenantKeys.get(cacheKey);
    if (key) {
      this.#tenantKeys.delete(cacheKey);
      this.#tenantKeys.set(cacheKey, key);
      return key;
    }
    const master = this.#keys.key(version);
    if (!master) throw new StateIntegrityError(`agent state was encrypted under master key version ${version}, which is not configured`);
    key = deriveTenantKey(master, tenant);
    if (this.#tenantKeys.size >= this.#maxCached) this.#tenantKeys.delete(this.#tenantKeys.keys().next().value as string);
    this.#tenantKeys.set(cacheKey, key);
    return key;
  }
}

function toIdentity(tenant: string, agent: { type: string; key: string }): StateIdentity {
  if (typeof tenant !== "string" || !agent || typeof agent.type !== "string" || typeof agent.key !== "string") {
    throw new InvalidArgumentError("agent state needs a tenant id string and an agent id { type, key }");
  }
  return { tenant, agentType: agent.type, agentKey: agent.key };
}

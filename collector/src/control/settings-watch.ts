import { CollectorError } from "../errors.js";
import type { TenantRegistry } from "../tenants/tenant-registry.js";

/** Why a wait ended. "changed": a tenant waited on may have changed (read again to know). */
export type WakeReason = "changed" | "timeout" | "aborted" | "closed";

/** What a long poll waits on: its tenants (or every tenant) and the settings version it last answered. */
export interface WatchedSettings {
  tenants: readonly string[] | "all";
  /** The highest settings version among those tenants when the poll read them (its ETag). */
  version: number;
}

/** Options of a SettingsWatch; every field has a default. */
export interface SettingsWatchOptions {
  /** How often stored versions are compared while any poll waits (changes made by other instances); default 1,000 ms. */
  pollIntervalMs?: number;
  /** Most polls waiting at once; past it `wait` throws `overloaded` (503 with Retry-After). Default 10,000. */
  maxWaiters?: number;
  /** Told when a version check fails (the next tick tries again). */
  onError?: (err: unknown) => void;
}

interface Waiter {
  version: number;
  wake: (reason: WakeReason) => void;
}

interface Group {
  tenants: readonly string[] | "all";
  waiters: Set<Waiter>;
}

/**
 * Where settings long polls wait. Guarantees: a wait ends with "changed" at once when a tenant it
 * watches is created or changed through this instance's registry, and within about
 * `pollIntervalMs` when one is changed by another instance sharing the store (one timer checks
 * stored versions for every waiting poll, and runs only while some poll waits); it ends with
 * "timeout", "aborted" (its signal) or "closed" otherwise, and never holds anything after it ends.
 * At most `maxWaiters` polls wait at once.
 */
export class SettingsWatch {
  readonly #registry: Pick<TenantRegistry, "onSettingsChanged" | "settingsVersions" | "maxSettingsVersion">;
  readonly #pollIntervalMs: number;
  readonly #maxWaiters: number;
  readonly #onError: (err: unknown) => void;
  /** Waiting polls by tenant set ("*" or the sorted ids): polls of the same set share one version check. */
  readonly #groups = new Map<string, Group>();
  readonly #unsubscribe: () => void;
  #waiting = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(registry: Pick<TenantRegistry, "onSettingsChanged" | "settingsVersions" | "maxSettingsVersion">, options: SettingsWatchOptions = {}) {
    this.#registry = registry;
    this.#pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.#maxWaiters = options.maxWaiters ?? 10_000;
    this.#onError = options.onError ?? (() => undefined);
    this.#unsubscribe = registry.onSettingsChanged((tenant) => this.#wakeTenant(tenant.id));
  }

  /** Polls waiting now. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Waits until the watched settings may have changed, `timeoutMs` passes, `signal` aborts or the watch closes. */
  wait(watched: WatchedSettings, timeoutMs: number, signal?: AbortSignal): Promise<WakeReason> {
    if (this.#closed) return Promise.resolve("closed");
    if (signal?.aborted) return Promise.resolve("aborted");
    if (this.#waiting >= this.#maxWaiters) {
      throw new CollectorError("overloaded", `${this.#maxWaiters} settings polls are waiting, the most this collector holds; retry later`, { retryAfterS: 1 });
    }
    const key = watched.tenants === "all" ? "*" : [...new Set(watched.tenants)].sort().join(",");
    let group = this.#groups.get(key);
    if (!group) this.#groups.set(key, (group = { tenants: watched.tenants, waiters: new Set() }));
    const g = group;
    return new Promise<WakeReason>((resolve) => {
      const waiter: Waiter = {
        version: watched.version,
        wake: (reason) => {
          if (!g.waiters.delete(waiter)) return;
          this.#waiting--;
          if (g.waiters.size === 0 && this.#groups.get(key) === g) this.#groups.delete(key);
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          resolve(reason);
        },
      };
      const onAbort = () => waiter.wake("aborted");
      const timer = setTimeout(() => waiter.wake("timeout"), Math.max(0, timeoutMs));
      signal?.addEventListener("abort", onAbort, { once: true });
      g.waiters.add(waiter);
      this.#waiting++;
      this.#schedule();
    });
  }

  /** Ends every wait with "closed" (and later ones at once) and stops listening to the registry. */
  close(): void {
    this.#closed = true;
    this.#unsubscribe();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const group of [...this.#groups.values()]) for (const w of [...group.waiters]) w.wake("closed");
  }

  #wakeTenant(tenantId: string): void {
    for (const group of [...this.#groups.values()]) {
      if (group.tenants === "all" || group.tenants.includes(tenantId)) for (const w of [...group.waiters]) w.wake("changed");
    }
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#closed || this.#waiting === 0) return;
    this.#timer = setTimeout(() => void this.#tick(), this.#pollIntervalMs);
    this.#timer.unref();
  }

  /** Compares stored versions with what each waiting poll answered: catches other instances' changes. */
  async #tick(): Promise<void> {
    try {
      const ids = new Set<string>();
      let anyAll = false;
      for (const g of this.#groups.values()) {
        if (g.tenants === "all") anyAll = true;
        else for (const id of g.tenants) ids.add(id);
      }
      const [versions, all] = await Promise.all([this.#registry.settingsVersions([...ids]), anyAll ? this.#registry.maxSettingsVersion() : Promise.resolve(0)]);
      for (const g of [...this.#groups.values()]) {
        const current = g.tenants === "all" ? all : Math.max(0, ...g.tenants.map((id) => versions.get(id) ?? 0));
        for (const w of [...g.waiters]) if (w.version !== current) w.wake("changed");
      }
    } catch (err) {
      this.#onError(err);
    } finally {
      this.#timer = undefined;
      this.#schedule();
    }
  }
}

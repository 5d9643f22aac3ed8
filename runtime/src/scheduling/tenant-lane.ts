import type { AgentId } from "../agents/ids.js";
import type { Subscription } from "../agents/subscription.js";
import type { TenantId } from "@troupe/contract";
import type { TenantSettings } from "../tenancy/tenant-quota.js";
import { TokenBucket, perSecond } from "../tenancy/token-bucket.js";
import { emptyTenantMetrics, type TenantMetrics } from "../tenancy/tenant-metrics.js";
import { Activation } from "./activation.js";
import type { Delivery } from "./delivery.js";

/**
 * Everything the runtime keeps for one tenant: its settings, its agents (by type, then key — the
 * tenant is never part of a key), the agents ready to run, the turns in flight, its rate limiter,
 * metrics and tenant-scoped subscriptions. Nothing here is shared with another tenant.
 */
export class TenantLane {
  settings!: TenantSettings;
  bucket: TokenBucket | null = null;
  readonly agents = new Map<string, Map<string, Activation>>();
  activeAgents = 0;
  #readyHead: Activation | null = null;
  #readyTail: Activation | null = null;
  /** Messages accepted and not started. */
  queued = 0;
  /** Turns running (not finished, not abandoned). */
  inFlight = 0;
  runHead: Delivery | null = null;
  #runTail: Delivery | null = null;
  readonly metrics: TenantMetrics = emptyTenantMetrics();
  abandonedRunning = 0;
  readonly subscriptions: Subscription[] = [];
  /** Scheduler bookkeeping: virtual time (service received / weight) and heap position. */
  vtime = 0;
  heapIndex = -1;
  serving = false;
  /** The public handle, created once. */
  handle: unknown = null;
  /** A cap below the quota on turns running at once (this runtime's share of a cluster-wide quota). */
  #inFlightCap = Number.POSITIVE_INFINITY;
  /** min(quota, cap): kept in a field because `eligible` is read for every turn. */
  #maxInFlight = 0;

  constructor(readonly tenant: TenantId, settings: TenantSettings, nowMs: number) {
    this.applySettings(settings, nowMs);
  }

  /**
   * Applies the tenant's settings; its rate bucket keeps the tokens already earned. The bucket reads
   * the scheduler's clock (performance.now) itself, so `_nowMs` is no longer needed.
   */
  applySettings(settings: TenantSettings, _nowMs: number): void {
    this.settings = settings;
    this.#maxInFlight = Math.min(settings.maxInFlightTurns, this.#inFlightCap);
    if (!Number.isFinite(settings.messagesPerSecond)) this.bucket = null;
    else if (this.bucket === null) this.bucket = new TokenBucket(perSecond(settings.messagesPerSecond), settings.burst);
    else this.bucket.reconfigure(perSecond(settings.messagesPerSecond), settings.burst);
  }

  /** Caps the turns running at once below the quota (0: none may start); Infinity removes the cap. */
  capInFlight(cap: number): void {
    this.#inFlightCap = cap;
    this.#maxInFlight = Math.min(this.settings.maxInFlightTurns, cap);
  }

  /** True when the scheduler may start one of this tenant's turns now. */
  get eligible(): boolean {
    return this.#readyHead !== null && this.inFlight < this.#maxInFlight;
  }

  get hasReady(): boolean {
    return this.#readyHead !== null;
  }

  activation(agentId: AgentId): Activation {
    let byKey = this.agents.get(agentId.type);
    if (byKey === undefined) {
      byKey = new Map();
      this.agents.set(agentId.type, byKey);
    }
    let a = byKey.get(agentId.key);
    if (a === undefined) {
      a = new Activation(agentId, this);
      byKey.set(agentId.key, a);
      this.activeAgents++;
    }
    return a;
  }

  removeActivation(a: Activation): void {
    const byKey = this.agents.get(a.agentId.type);
    if (byKey !== undefined && byKey.get(a.agentId.key) === a) {
      byKey.delete(a.agentId.key);
      if (byKey.size === 0) this.agents.delete(a.agentId.type);
      this.activeAgents--;
    }
    a.evicted = true;
  }

  pushReady(a: Activation): void {
    a.ready = true;
    a.nextReady = null;
    if (this.#readyTail === null) this.#readyHead = a;
    else this.#readyTail.nextReady = a;
    this.#readyTail = a;
  }

  popReady(): Activation | null {
    const a = this.#readyHead;
    if (a !== null) {
      this.#readyHead = a.nextReady;
      if (this.#readyHead === null) this.#readyTail = null;
      a.nextReady = null;
      a.ready = false;
    }
    return a;
  }

  addRunning(d: Delivery): void {
    d.prevRunning = this.#runTail;
    d.nextRunning = null;
    if (this.#runTail === null) this.runHead = d;
    else this.#runTail.nextRunning = d;
    this.#runTail = d;
    this.inFlight++;
  }

  removeRunning(d: Delivery): void {
    if (d.prevRunning === null) this.runHead = d.nextRunning;
    else d.prevRunning.nextRunning = d.nextRunning;
    if (d.nextRunning === null) this.#runTail = d.prevRunning;
    else d.nextRunning.prevRunning = d.prevRunning;
    d.prevRunning = d.nextRunning = null;
    this.inFlight--;
  }

  /** Every activation of the tenant (a snapshot). */
  allActivations(): Activation[] {
    const out: Activation[] = [];
    for (const byKey of this.agents.values()) for (const a of byKey.values()) out.push(a);
    return out;
  }
}

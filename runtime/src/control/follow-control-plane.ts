/**
 * A runtime following the control plane: the collector's tenant registry is the source of truth
 * for every tenant's tier, quotas, LLM budgets and rate limits and sampling ratio, and this keeps a
 * runtime on it. Guarantees:
 * - a change in the registry is applied within one round trip: the follower holds a long poll open
 *   (one request per `waitSeconds` while nothing changes) that the collector answers as soon as
 *   something does;
 * - the settings in force are never dropped for lack of a collector: unreachable, refusing the key,
 *   or answering outside the contract, the last settings stay (status "stale"), the problem is
 *   logged once and its end once, and reads are retried (capped backoff with jitter; slowly after a
 *   refusal) — nothing is ever thrown out of the loop;
 * - `ready` resolves after the first apply (from the collector, else from the cache file of the
 *   last settings, else on code options, each said in the log) and the first read of usage so far
 *   (so a restarted runtime's first call already counts the day's spending), within
 *   `startupTimeoutMs`; it never rejects;
 * - budgets count everyone's usage: every `usageRefreshMs` the usage other ledgers charged (as the
 *   collector sums usage records) becomes the ledger's baseline. A tenant can overshoot a budget by
 *   at most what other processes reserve in flight, plus their records not yet exported or stored,
 *   plus what they spend within one refresh period;
 * - `stop()` ends the poll and the timers at once.
 */
import { randomUUID } from "node:crypto";
import { AbortedError, ControlPlaneError } from "../errors.js";
import { sleep } from "../llm/sleep.js";
import { ManagedSettingsApplier } from "./apply-managed-settings.js";
import { ControlPlaneClient } from "./control-plane-client.js";
import { observeControlStatus, type ControlPlaneStatus } from "./control-status.js";
import type { ControlSettingsResponse } from "@troupe/contract";
import { resolveFollowOptions, type FollowControlPlaneOptions, type ResolvedFollowOptions } from "./follow-control-plane-options.js";
import { ReadHealth } from "./read-health.js";
import { SettingsCache, type CachedSettings } from "./settings-cache.js";
import { UsageBaseline } from "./usage-baseline.js";

/** A running follower. */
export interface ControlPlaneFollower {
  /** Resolves once settings are in force: the collector's, the cached ones, or the code's. Never rejects. */
  readonly ready: Promise<void>;
  status(): ControlPlaneStatus;
  /** Ends the long poll and the timers; the settings in force stay. */
  stop(): Promise<void>;
}

/** CONTROL_HEADERS.runtimeId of this process: one per process, new on restart. */
const PROCESS_RUNTIME_ID = randomUUID();

/** How far usage reads back off while nothing moves: up to this many times `usageRefreshMs`. */
const IDLE_USAGE_BACKOFF = 8;

/** A poll answered faster than this waits out the rest before the next (a collector that ignores `wait` is not hammered). */
const MIN_POLL_INTERVAL_MS = 1_000;

/**
 * Starts following the control plane (see the module's guarantees). Bad options throw
 * InvalidArgumentError naming the option; nothing after that throws.
 */
export function followControlPlane(options: FollowControlPlaneOptions): ControlPlaneFollower {
  const follower = new Follower(resolveFollowOptions(options));
  follower.start();
  return follower;
}

class Follower implements ControlPlaneFollower {
  readonly ready: Promise<void>;
  readonly #o: ResolvedFollowOptions;
  readonly #client: ControlPlaneClient;
  readonly #cache: SettingsCache;
  readonly #applier: ManagedSettingsApplier;
  readonly #settingsHealth: ReadHealth;
  readonly #usageHealth: ReadHealth;
  readonly #abort = new AbortController();
  #markReady!: () => void;
  #markUsageRead!: () => void;
  #isReady = false;
  #cached: CachedSettings | undefined;
  #source: "collector" | "cache" | undefined;
  #appliedVersion = 0;
  /** When the settings in force were last known current (a read, or the cache's save). */
  #currentAtMs: number | undefined;
  #connected = false;
  #lastSuccessAtMs: number | undefined;
  #lastError: string | undefined;
  #cacheWrite: Promise<void> = Promise.resolve();
  #cacheProblem: string | undefined;
  #startupTimer: ReturnType<typeof setTimeout> | undefined;
  #unobserve: (() => void) | undefined;
  readonly #loops: Promise<void>[] = [];

  constructor(options: ResolvedFollowOptions) {
    this.#o = options;
    const settingsReady = new Promise<void>((resolve) => (this.#markReady = resolve));
    const usageRead = new Promise<void>((resolve) => (this.#markUsageRead = resolve));
    this.ready = Promise.all([settingsReady, usageRead]).then(() => undefined);
    this.#client = new ControlPlaneClient({ ...options, runtimeId: PROCESS_RUNTIME_ID });
    this.#cache = new SettingsCache(options.cacheFile, options.collectorUrl, options.tenants);
    this.#applier = new ManagedSettingsApplier(options, options.log);
    this.#settingsHealth = new ReadHealth(options.log);
    this.#usageHealth = new ReadHealth(options.log);
  }

  start(): void {
    this.#unobserve = observeControlStatus(this.#o.meterProvider, () => this.status());
    this.#startupTimer = setTimeout(() => {
      this.#fallBack(`no answer within ${this.#o.startupTimeoutMs / 1000} s`, "unreachable");
      this.#markUsageRead();
    }, this.#o.startupTimeoutMs);
    this.#loops.push(this.#followSettings());
    if (this.#o.llm !== undefined) this.#loops.push(this.#followUsage(new UsageBaseline(this.#client, this.#o.llm.ledger, this.#o.tenants)));
    else this.#markUsageRead();
  }

  status(): ControlPlaneStatus {
    const now = this.#o.now();
    const state = this.#source === undefined ? "code-options" : this.#connected ? "following" : "stale";
    return {
      state,
      appliedVersion: this.#appliedVersion,
      source: this.#source ?? "code-options",
      lastSuccessAt: this.#lastSuccessAtMs === undefined ? undefined : new Date(this.#lastSuccessAtMs),
      lastError: this.#lastError,
      settingsAgeS: state === "following" ? 0 : this.#currentAtMs === undefined ? undefined : Math.max(0, (now - this.#currentAtMs) / 1000),
    };
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    clearTimeout(this.#startupTimer);
    this.#unobserve?.();
    this.#unobserve = undefined;
    this.#resolveReady();
    this.#markUsageRead();
    await Promise.allSettled(this.#loops);
    await this.#cacheWrite;
  }

  async #followSettings(): Promise<void> {
    const signal = this.#abort.signal;
    const cached = await this.#cache.read();
    if (cached !== undefined && "problem" in cached) this.#o.log(`control plane: ${cached.problem}; not used`);
    else this.#cached = cached;
    let failures = 0;
    let fastAnswers = 0;
    let first = true;
    while (!signal.aborted) {
      const startedMs = performance.now();
      try {
        const heldVersion = this.#appliedVersion;
        const read = await this.#client.readSettings({
          tenants: this.#o.tenants,
          knownVersion: this.#source !== undefined ? this.#appliedVersion : this.#cached?.settings.version,
          // The first read answers at once, so `ready` never waits out a long poll.
          waitSeconds: first ? 0 : this.#o.waitSeconds,
          appliedVersion: this.#appliedVersion,
          signal,
        });
        if (read.changed) this.#apply(read.settings, "collector", this.#o.now());
        else if (this.#source === undefined && this.#cached !== undefined) this.#apply(this.#cached.settings, "collector", this.#o.now());
        else if (this.#source === "cache") this.#source = "collector"; // the collector confirmed the cached settings
        this.#succeeded();
        failures = 0;
        first = false;
        // A change is polled for again at once; a fast "unchanged", or a fast "changed" without a
        // newer version twice running (a collector that ignores If-None-Match), waits out the rest
        // of the minimum interval.
        const elapsedMs = performance.now() - startedMs;
        const newer = read.changed && read.settings.version > heldVersion;
        fastAnswers = elapsedMs < MIN_POLL_INTERVAL_MS && !newer ? fastAnswers + 1 : 0;
        if (!read.changed || fastAnswers > 1) await sleep(MIN_POLL_INTERVAL_MS - elapsedMs, signal);
      } catch (error) {
        if (signal.aborted) break;
        first = false;
        const delayMs = this.#failed(error, ++failures);
        await sleep(delayMs, signal).catch(() => undefined);
      }
    }
  }

  /**
   * Reads usage so far every `usageRefreshMs` while anything moves: this runtime made LLM calls, or
   * the last read differed from the one before. While neither (an idle runtime, quiet tenants), the
   * reads back off, doubling up to IDLE_USAGE_BACKOFF times the interval; the first LLM call after
   * that is noticed at the next tick (within `usageRefreshMs`), which reads at once.
   */
  async #followUsage(baseline: UsageBaseline): Promise<void> {
    const signal = this.#abort.signal;
    const activity = (): number => this.#o.llm?.metrics?.totalCalls ?? 0;
    let intervalMs = this.#o.usageRefreshMs;
    let lastReadMs = Number.NEGATIVE_INFINITY;
    let callsAtRead = -1;
    while (!signal.aborted) {
      const calls = activity();
      if (calls !== callsAtRead || performance.now() - lastReadMs >= intervalMs) {
        lastReadMs = performance.now();
        try {
          const changed = await baseline.refresh(this.#appliedVersion, signal);
          this.#usageHealth.succeeded(() => "control plane: usage so far readable again; budgets count every process's usage");
          const quiet = !changed && calls === callsAtRead;
          intervalMs = quiet ? Math.min(intervalMs * 2, this.#o.usageRefreshMs * IDLE_USAGE_BACKOFF) : this.#o.usageRefreshMs;
        } catch (error) {
          if (signal.aborted) break;
          const message = messageOf(error);
          this.#usageHealth.failed(kindOf(error), () => `control plane: usage so far unavailable (${message}); budgets keep the usage read at ${baseline.asOf ?? "(never)"}`);
          intervalMs = this.#o.usageRefreshMs;
        }
        callsAtRead = calls;
        this.#markUsageRead();
      }
      await sleep(this.#o.usageRefreshMs, signal).catch(() => undefined);
    }
  }

  #apply(settings: ControlSettingsResponse, source: "collector" | "cache", currentAtMs: number): void {
    this.#applier.apply(settings);
    this.#appliedVersion = settings.version;
    this.#source = source;
    this.#currentAtMs = currentAtMs;
    if (source === "collector") this.#saveToCache(settings, currentAtMs);
    this.#resolveReady();
  }

  #succeeded(): void {
    this.#connected = true;
    this.#lastSuccessAtMs = this.#o.now();
    this.#currentAtMs = this.#lastSuccessAtMs;
    this.#lastError = undefined;
    this.#settingsHealth.succeeded(() => `control plane: collector ${this.#o.collectorUrl} reachable again; following settings version ${this.#appliedVersion}`);
  }

  /** Notes a failed read (logged once per kind) and returns the pause before the next. */
  #failed(error: unknown, failures: number): number {
    const message = messageOf(error);
    this.#connected = false;
    this.#lastError = message;
    const kind = kindOf(error);
    if (!this.#isReady) {
      this.#fallBack(message, kind);
    } else {
      this.#settingsHealth.failed(kind, () => {
        const what = kind === "unreachable" ? `collector unreachable (${message})` : kind.startsWith("invalid_answer") ? `refused the collector's answer (${message})` : message;
        return `control plane: ${what}; keeping ${this.#inForce()}`;
      });
    }
    if (kind !== "unreachable") return this.#o.refusedRetryMs;
    const expMs = Math.min(this.#o.retryMaxMs, this.#o.retryMinMs * 2 ** Math.min(30, failures - 1));
    const jittered = Math.max(this.#o.retryMinMs, expMs / 2 + this.#o.random() * (expMs / 2));
    const asked = error instanceof ControlPlaneError ? error.retryAfterMs : undefined;
    return Math.min(this.#o.refusedRetryMs, Math.max(jittered, asked ?? 0));
  }

  /** Before the first apply: runs on the cached settings, else on code options, and says which. */
  #fallBack(reason: string, kind: string): void {
    if (this.#isReady || this.#abort.signal.aborted) return;
    const problem = kind === "unreachable" ? `collector unreachable (${reason})` : reason;
    const cached = this.#cached;
    if (cached !== undefined) this.#apply(cached.settings, "cache", cached.savedAtMs);
    const line =
      cached === undefined
        ? `control plane: ${problem} and no cached settings: running on code options`
        : `control plane: ${problem}; applied cached settings version ${cached.settings.version} from ${new Date(cached.savedAtMs).toISOString()}`;
    this.#settingsHealth.failed(kind, () => line);
    if (this.#lastError === undefined) this.#lastError = problem;
    this.#resolveReady();
  }

  #inForce(): string {
    if (this.#source === undefined) return "code options";
    return `settings version ${this.#appliedVersion} from ${this.#currentAtMs === undefined ? "(unknown)" : new Date(this.#currentAtMs).toISOString()}`;
  }

  #saveToCache(settings: ControlSettingsResponse, savedAtMs: number): void {
    this.#cacheWrite = this.#cacheWrite
      .then(() => this.#cache.write(settings, savedAtMs))
      .then(
        () => (this.#cacheProblem = undefined),
        (error: unknown) => {
          const problem = `control plane: the settings cache ${this.#cache.path} could not be written (${messageOf(error)}); a restart while the collector is down will run on code options`;
          if (this.#cacheProblem !== problem) this.#o.log(problem);
          this.#cacheProblem = problem;
        },
      );
  }

  #resolveReady(): void {
    if (this.#isReady) return;
    this.#isReady = true;
    clearTimeout(this.#startupTimer);
    this.#markReady();
  }
}

/** A failure's kind for once-logging: every outage is one kind; each distinct refusal or bad answer its own. */
function kindOf(error: unknown): string {
  if (error instanceof ControlPlaneError) return error.failure === "unreachable" ? "unreachable" : `${error.failure}:${error.status ?? ""}:${error.message}`;
  if (error instanceof AbortedError) return "unreachable";
  return `error:${messageOf(error)}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

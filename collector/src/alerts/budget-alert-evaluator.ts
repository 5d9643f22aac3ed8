import type { BudgetAlert, TenantRecord } from "@troupe/contract/query-api";
import { budgetUsage, type BudgetUsage } from "../query/tenant-activity-queries.js";
import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import type { TenantRegistry } from "../tenants/tenant-registry.js";
import type { AlertMetrics } from "./alert-metrics.js";
import type { AlertStore } from "./alert-store.js";
import { alertIdOf, alertKeyOf, alertThresholdsOf, alertWindowsAt, type AlertWindows } from "./alert-windows.js";
import { alertsDue } from "./alerts-due.js";
import { budgetRejectionsSince } from "./budget-rejections.js";
import type { WebhookStore } from "./webhook-store.js";

/** What the evaluator reads, and where raised alerts go. */
export interface BudgetAlertEvaluatorDeps {
  gateway: ClickHouseGateway;
  tenants: Pick<TenantRegistry, "getTenant" | "listTenants">;
  alerts: AlertStore;
  webhooks: Pick<WebhookStore, "get">;
  /** Takes every alert raised while its tenant has a webhook. */
  deliver: (alert: BudgetAlert) => void;
  metrics: AlertMetrics;
  /** Clock of the budget windows and alert times; default Date.now. */
  now?: () => number;
  /** Told about failed evaluations (the next one tries again). */
  onError?: (err: unknown) => void;
}

/** How often the evaluator runs. */
export interface BudgetAlertEvaluatorOptions {
  /** At most one evaluation per this interval, however often usage is stored. Default 1 s. */
  minIntervalMs: number;
  /** Every tenant is evaluated this often, for usage another collector instance stored. Default 60 s. */
  sweepIntervalMs: number;
  /** Tenants waiting for evaluation at once; past it a tenant is left to the next sweep (counted). Default 10,000. */
  maxPendingTenants: number;
}

/** Defaults of BudgetAlertEvaluatorOptions. */
export const DEFAULT_BUDGET_ALERT_EVALUATOR_OPTIONS: BudgetAlertEvaluatorOptions = { minIntervalMs: 1_000, sweepIntervalMs: 60_000, maxPendingTenants: 10_000 };

/**
 * Raises budget alerts. Guarantees: each alert key of a tenant (window, metric, threshold, or the
 * window's refusal) is raised at most once by this instance, and not again after a restart (the
 * keys of the current windows are read back from the store); an alert is stored before it is handed
 * to delivery, with delivery "pending" when the tenant has a webhook and "none" otherwise; tenants
 * told about with `notify` are evaluated within about `minIntervalMs`, every tenant within
 * `sweepIntervalMs`. Two instances may raise the same alert: the store keeps one row and both give
 * it the same id, which receivers deduplicate on.
 */
export class BudgetAlertEvaluator {
  readonly #deps: BudgetAlertEvaluatorDeps;
  readonly #options: BudgetAlertEvaluatorOptions;
  readonly #now: () => number;
  /** `tenant \0 alert key` of the alerts raised in the current windows. */
  #known = new Set<string>();
  #knownWindows: string | undefined;
  readonly #dirty = new Set<string>();
  #sweepDue = false;
  #lastRunAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(deps: BudgetAlertEvaluatorDeps, options: Partial<BudgetAlertEvaluatorOptions> = {}) {
    this.#deps = deps;
    this.#options = { ...DEFAULT_BUDGET_ALERT_EVALUATOR_OPTIONS, ...options };
    this.#now = deps.now ?? Date.now;
  }

  /** Starts the sweeps, the first one at once. */
  start(): void {
    if (this.#closed || this.#sweepTimer) return;
    this.#sweepDue = true;
    this.#schedule();
    this.#sweepTimer = setInterval(() => {
      this.#sweepDue = true;
      this.#schedule();
    }, this.#options.sweepIntervalMs);
    this.#sweepTimer.unref();
  }

  /** Usage records of these tenants were just stored: evaluate them soon. */
  notify(tenantIds: Iterable<string>): void {
    if (this.#closed) return;
    for (const id of tenantIds) {
      if (this.#dirty.has(id)) continue;
      if (this.#dirty.size >= this.#options.maxPendingTenants) this.#deps.metrics.evaluationsDropped.inc();
      else this.#dirty.add(id);
    }
    this.#schedule();
  }

  /** Evaluates these tenants (or every tenant) now; resolves the alerts raised. Evaluations run one at a time. */
  evaluate(tenantIds?: readonly string[]): Promise<BudgetAlert[]> {
    const run = this.#chain.then(() => this.#evaluate(tenantIds));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** Stops scheduling and waits for the evaluation in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#sweepTimer);
    this.#timer = undefined;
    await this.#running;
    await this.#chain;
  }

  #schedule(): void {
    if (this.#closed || this.#timer || this.#running) return;
    if (this.#dirty.size === 0 && !this.#sweepDue) return;
    const delayMs = Math.max(0, this.#lastRunAt + this.#options.minIntervalMs - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#runDue().finally(() => {
        this.#running = undefined;
        this.#schedule();
      });
    }, delayMs);
    this.#timer.unref();
  }

  async #runDue(): Promise<void> {
    const sweep = this.#sweepDue;
    const ids = sweep ? undefined : [...this.#dirty];
    this.#sweepDue = false;
    this.#dirty.clear();
    this.#lastRunAt = performance.now();
    try {
      await this.evaluate(ids);
    } catch (err) {
      // Nothing is lost: the next sweep evaluates every tenant again.
      this.#deps.metrics.errors.inc(["evaluate"]);
      this.#deps.onError?.(err);
    }
  }

  async #evaluate(tenantIds: readonly string[] | undefined): Promise<BudgetAlert[]> {
    const { gateway, alerts, metrics } = this.#deps;
    const nowMs = this.#now();
    const windows = alertWindowsAt(nowMs);
    await this.#loadKnown(windows, tenantIds === undefined);
    const tenants = tenantIds
      ? (await Promise.all([...new Set(tenantIds)].map((id) => this.#deps.tenants.getTenant(id)))).filter((t): t is TenantRecord => t !== null)
      : await this.#deps.tenants.listTenants();
    if (tenants.length === 0) return [];
    // Usage is read for tenants with a budget only (a month of records each); refusals for all.
    const budgeted = tenants.filter((t) => Object.values(t.budgets).some((v) => v !== null)).map((t) => t.id);
    const [usage, refused] = await Promise.all([
      budgeted.length > 0 ? budgetUsage(gateway, nowMs, budgeted) : new Map<string, BudgetUsage>(),
      budgetRejectionsSince(gateway, windows.dayStartMs, tenantIds ? tenants.map((t) => t.id) : undefined),
    ]);
    const raised: BudgetAlert[] = [];
    for (const tenant of tenants) {
      const due = alertsDue(
        { tenantId: tenant.id, budgets: tenant.budgets, thresholds: alertThresholdsOf(tenant), usage: usage.get(tenant.id), rejectedToday: refused.get(tenant.id) ?? 0 },
        windows,
      ).filter((a) => !this.#known.has(knownKey(tenant.id, alertKeyOf(a))));
      if (due.length === 0) continue;
      const delivery = (await this.#deps.webhooks.get(tenant.id)) ? "pending" : "none";
      for (const a of due) raised.push({ ...a, alertId: alertIdOf(tenant.id, alertKeyOf(a)), raisedAt: new Date(nowMs).toISOString(), delivery });
    }
    if (raised.length === 0) return raised;
    await alerts.insertAlerts(raised);
    for (const a of raised) {
      this.#known.add(knownKey(a.tenantId, alertKeyOf(a)));
      metrics.alertsRaised.inc([a.kind]);
      if (a.delivery === "pending") this.#deps.deliver(a);
    }
    return raised;
  }

  /** Reads back the keys raised in the current windows: when they change (a new day), and on sweeps (other instances' alerts). */
  async #loadKnown(windows: AlertWindows, refresh: boolean): Promise<void> {
    const id = `${windows.dayKey}|${windows.monthKey}`;
    if (id === this.#knownWindows && !refresh) return;
    const rows = await this.#deps.alerts.raisedKeys([windows.dayKey, windows.monthKey]);
    // A new day drops the keys of the last one, so the set holds the current windows only.
    const known = id === this.#knownWindows ? this.#known : new Set<string>();
    for (const r of rows) known.add(knownKey(r.tenantId, r.alertKey));
    this.#known = known;
    this.#knownWindows = id;
  }
}

function knownKey(tenantId: string, alertKey: string): string {
  return `${tenantId}\u0000${alertKey}`;
}

/**
 * What a following runtime reports about the control plane: a status snapshot, and three gauges
 * observed only when a metric reader collects (no cost in between). Guarantee: the gauges read the
 * same state as `status()`, and are unregistered when the follower stops.
 */
import { metrics, type MeterProvider } from "@opentelemetry/api";

/**
 * - "following": the last read of the collector succeeded; the settings in force are current;
 * - "stale": settings from the collector (or its cache) are in force, but the collector cannot be
 *   read now (unreachable, refusing the key, or answering outside the contract);
 * - "code-options": no settings were ever read: the code's options rule.
 */
export type ControlPlaneState = "following" | "stale" | "code-options";

/** A snapshot of a follower. */
export interface ControlPlaneStatus {
  readonly state: ControlPlaneState;
  /** The settings version in force (0 on code options). */
  readonly appliedVersion: number;
  /** Where the settings in force came from. */
  readonly source: "collector" | "cache" | "code-options";
  /** The last successful read of the collector's settings. */
  readonly lastSuccessAt: Date | undefined;
  /** The last failure, in words (undefined after a success). */
  readonly lastError: string | undefined;
  /** Seconds since the settings in force were last known current (0 while following). */
  readonly settingsAgeS: number | undefined;
}

/** Gauge names. */
export const CONTROL_METRICS = {
  connected: "troupe.control.connected",
  settingsAge: "troupe.control.settings_age_s",
  appliedVersion: "troupe.control.applied_version",
} as const;

/** Registers the gauges; returns the function that unregisters them. */
export function observeControlStatus(meterProvider: MeterProvider | undefined, status: () => ControlPlaneStatus): () => void {
  const meter = (meterProvider ?? metrics.getMeterProvider()).getMeter("@troupe/runtime/control");
  const connected = meter.createObservableGauge(CONTROL_METRICS.connected, { description: "1 while the runtime follows the collector's settings, else 0" });
  const age = meter.createObservableGauge(CONTROL_METRICS.settingsAge, { description: "Seconds since the settings in force were last known current (0 while following)", unit: "s" });
  const version = meter.createObservableGauge(CONTROL_METRICS.appliedVersion, { description: "The settings version in force (0 on code options)" });
  const observe = (result: { observe(metric: typeof connected, value: number): void }): void => {
    const s = status();
    result.observe(connected, s.state === "following" ? 1 : 0);
    if (s.settingsAgeS !== undefined) result.observe(age, s.settingsAgeS);
    result.observe(version, s.appliedVersion);
  };
  const observables = [connected, age, version];
  meter.addBatchObservableCallback(observe, observables);
  return () => meter.removeBatchObservableCallback(observe, observables);
}

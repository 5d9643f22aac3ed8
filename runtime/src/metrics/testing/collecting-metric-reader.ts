import { DataPointType, MetricReader } from "@opentelemetry/sdk-metrics";
import type { DataPoint, Histogram, MetricData } from "@opentelemetry/sdk-metrics";
import type { Attributes } from "@opentelemetry/api";

/** One histogram point as a test reads it. */
export interface HistogramPoint {
  readonly attributes: Attributes;
  readonly count: number;
  readonly sum: number;
  readonly boundaries: readonly number[];
  readonly counts: readonly number[];
}

/**
 * Test helper, not exported: a MetricReader that exports nothing and collects on demand, so a test
 * reads every instrument as the SDK would export it (cumulative points, descriptors with units).
 */
export class CollectingMetricReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }

  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }

  /** Every metric collected now, by name (one scope per meter; names do not repeat across ours). */
  async read(): Promise<Map<string, MetricData>> {
    const { resourceMetrics, errors } = await this.collect();
    if (errors.length > 0) throw errors[0];
    const byName = new Map<string, MetricData>();
    for (const scope of resourceMetrics.scopeMetrics) for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
    return byName;
  }

  /** The points of histogram `name` (none when it recorded nothing); throws when `name` is another kind. */
  async histogram(name: string): Promise<HistogramPoint[]> {
    const metric = (await this.read()).get(name);
    if (metric === undefined) return [];
    if (metric.dataPointType !== DataPointType.HISTOGRAM) throw new Error(`${name} is not a histogram`);
    return (metric.dataPoints as DataPoint<Histogram>[]).map((p) => ({
      attributes: p.attributes,
      count: p.value.count,
      sum: p.value.sum ?? Number.NaN,
      boundaries: p.value.buckets.boundaries,
      counts: p.value.buckets.counts,
    }));
  }

  /** The points of counter `name` as (attributes, value) pairs (none when it counted nothing). */
  async counter(name: string): Promise<{ attributes: Attributes; value: number }[]> {
    const metric = (await this.read()).get(name);
    if (metric === undefined) return [];
    if (metric.dataPointType !== DataPointType.SUM) throw new Error(`${name} is not a counter`);
    return (metric.dataPoints as DataPoint<number>[]).map((p) => ({ attributes: p.attributes, value: p.value }));
  }
}

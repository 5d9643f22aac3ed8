/**
 * A minimal Prometheus text-format registry: counters and histograms with fixed label names, and
 * gauges read on scrape. Label sets are bounded by the caller (reasons, kinds), never by request data.
 */
export class MetricRegistry {
  readonly #metrics: Metric[] = [];

  /** A monotonically increasing counter. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }

  /** A gauge whose value is read from `read` on every scrape. */
  gauge(name: string, help: string, read: () => number): Gauge {
    return this.#add(new Gauge(name, help, read));
  }

  /** A gauge with labels: `read` gives every series (label values, value) on each scrape. */
  labeledGauge(name: string, help: string, labelNames: readonly string[], read: () => Iterable<readonly [labels: readonly string[], value: number]>): LabeledGauge {
    return this.#add(new LabeledGauge(name, help, labelNames, read));
  }

  /** A histogram with the given upper bounds (seconds, bytes...), ascending. */
  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, buckets));
  }

  /** Every metric in Prometheus text exposition format 0.0.4. */
  render(): string {
    return this.#metrics.map((m) => m.render()).join("");
  }

  #add<M extends Metric>(metric: M): M {
    if (this.#metrics.some((m) => m.name === metric.name)) throw new Error(`metric ${metric.name} registered twice`);
    this.#metrics.push(metric);
    return metric;
  }
}

interface Metric {
  readonly name: string;
  render(): string;
}

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}\n# TYPE ${name} ${type}\n`;
}

function labelText(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return "";
  const parts = names.map((n, i) => `${n}="${(values[i] ?? "").replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  return `{${parts.join(",")}}`;
}

/** A counter; `inc` with one value per label name. */
export class Counter implements Metric {
  readonly #values = new Map<string, { labels: string[]; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /** Adds `by` (default 1, never negative) to the series of these label values. */
  inc(labels: readonly string[] = [], by = 1): void {
    if (by <= 0) return;
    const key = labels.join("\u0000");
    const entry = this.#values.get(key);
    if (entry) entry.value += by;
    else this.#values.set(key, { labels: [...labels], value: by });
  }

  /** The current value of one series (0 when never incremented). */
  value(labels: readonly string[] = []): number {
    return this.#values.get(labels.join("\u0000"))?.value ?? 0;
  }

  /** The sum over every series. */
  total(): number {
    let sum = 0;
    for (const e of this.#values.values()) sum += e.value;
    return sum;
  }

  render(): string {
    let out = header(this.name, this.help, "counter");
    if (this.#values.size === 0 && this.labelNames.length === 0) out += `${this.name} 0\n`;
    for (const e of this.#values.values()) out += `${this.name}${labelText(this.labelNames, e.labels)} ${e.value}\n`;
    return out;
  }
}

/** A gauge read on scrape. */
export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly read: () => number,
  ) {}

  render(): string {
    return `${header(this.name, this.help, "gauge")}${this.name} ${this.read()}\n`;
  }
}

/** A gauge with labels, its series read on scrape. */
export class LabeledGauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly read: () => Iterable<readonly [labels: readonly string[], value: number]>,
  ) {}

  render(): string {
    let out = header(this.name, this.help, "gauge");
    for (const [labels, value] of this.read()) out += `${this.name}${labelText(this.labelNames, labels)} ${value}\n`;
    return out;
  }
}

/** A cumulative histogram. */
export class Histogram implements Metric {
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {
    this.#counts = buckets.map(() => 0);
  }

  observe(value: number): void {
    this.#sum += value;
    this.#count += 1;
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= (this.buckets[i] as number)) {
        this.#counts[i] = (this.#counts[i] as number) + 1;
        break;
      }
    }
  }

  /** How many values were observed. */
  count(): number {
    return this.#count;
  }

  render(): string {
    let out = header(this.name, this.help, "histogram");
    let cumulative = 0;
    this.buckets.forEach((le, i) => {
      cumulative += this.#counts[i] as number;
      out += `${this.name}_bucket{le="${le}"} ${cumulative}\n`;
    });
    out += `${this.name}_bucket{le="+Inf"} ${this.#count}\n${this.name}_sum ${this.#sum}\n${this.name}_count ${this.#count}\n`;
    return out;
  }
}

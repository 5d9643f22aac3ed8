import { describe, expect, it } from "vitest";
import { MetricRegistry } from "./metric-registry.js";

describe("MetricRegistry", () => {
  it("renders counters with escaped labels, gauges read on scrape and cumulative histograms", () => {
    const r = new MetricRegistry();
    const c = r.counter("x_total", "Things.", ["reason"]);
    c.inc(['a"b\\c']);
    c.inc(['a"b\\c'], 2);
    c.inc(["other"], 0); // never creates a series
    let depth = 3;
    r.gauge("depth", "Depth.", () => depth);
    const h = r.histogram("lat_seconds", "Latency.", [0.1, 1]);
    h.observe(0.05);
    h.observe(0.5);
    h.observe(5);
    depth = 7;
    expect(r.render()).toBe(
      [
        "# HELP x_total Things.",
        "# TYPE x_total counter",
        'x_total{reason="a\\"b\\\\c"} 3',
        "# HELP depth Depth.",
        "# TYPE depth gauge",
        "depth 7",
        "# HELP lat_seconds Latency.",
        "# TYPE lat_seconds histogram",
        'lat_seconds_bucket{le="0.1"} 1',
        'lat_seconds_bucket{le="1"} 2',
        'lat_seconds_bucket{le="+Inf"} 3',
        "lat_seconds_sum 5.55",
        "lat_seconds_count 3",
        "",
      ].join("\n"),
    );
    expect(() => r.counter("x_total", "again")).toThrow(/twice/);
  });

  it("renders a labeled gauge's series as they are read on each scrape", () => {
    const r = new MetricRegistry();
    let series: [string[], number][] = [[["a"], 1]];
    r.labeledGauge("queue", "Queue.", ["destination"], () => series);
    expect(r.render()).toBe('# HELP queue Queue.\n# TYPE queue gauge\nqueue{destination="a"} 1\n');
    series = [[["a"], 0], [['b"'], 2.5]];
    expect(r.render()).toBe('# HELP queue Queue.\n# TYPE queue gauge\nqueue{destination="a"} 0\nqueue{destination="b\\""} 2.5\n');
  });
});

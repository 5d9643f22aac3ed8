// The one line under a chart that says how to read it.
import type { EmptyBucket } from "./time-buckets";
import { bucketName } from "./time-ticks";

/**
 * What a time chart shows, in words: the bucket width (UTC), what an empty bucket is drawn as, and,
 * for more than one series, whether they are stacked (the top edge is the total) or each drawn
 * from zero.
 */
export function chartNote({ stepMs, empty, stacked, seriesCount, kind }: { stepMs: number; empty: EmptyBucket; stacked: boolean; seriesCount: number; kind: "area" | "bar" }): string {
  const parts = [`One ${kind === "bar" ? "bar" : "point"} per ${bucketName(stepMs)} (UTC)`];
  parts.push(empty === "zero" ? "empty buckets drawn as 0" : "no line where there is nothing to measure");
  if (seriesCount > 1) parts.push(stacked ? "stacked: the top edge is the total" : "not stacked: each series from 0");
  return parts.join(" · ");
}

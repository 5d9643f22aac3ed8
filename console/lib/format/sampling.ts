import type { SamplingInForce } from "../api/types";

/** A sampling ratio as a percentage with up to three significant digits: 0.01 → "1%", 0.125 → "12.5%". */
export function formatSamplingRatio(ratio: number): string {
  return `${Number((ratio * 100).toPrecision(3))}%`;
}

/**
 * How span and trace counts must be labelled under trace sampling: "sampled at 1%" (or every ratio
 * in force when it changed over the range), or null when nothing was sampled out.
 */
export function samplingLabel(sampling: SamplingInForce | undefined): string | null {
  if (!sampling?.sampled) return null;
  const pcts = sampling.ratios.map(formatSamplingRatio);
  const list = pcts.length <= 2 ? pcts.join(" and ") : `${pcts.slice(0, -1).join(", ")} and ${pcts[pcts.length - 1]}`;
  return `sampled at ${list}`;
}

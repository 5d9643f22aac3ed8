/** Formats epoch milliseconds as a ClickHouse DateTime64(3) literal in UTC: "YYYY-MM-DD hh:mm:ss.sss". */
export function toClickHouseDateTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace("T", " ").replace("Z", "");
}

/** Parses a ClickHouse DateTime64 text in UTC ("YYYY-MM-DD hh:mm:ss[.fff...]") to epoch milliseconds. */
export function fromClickHouseDateTime(text: string): number {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?$/.exec(text);
  if (!m) return Number.NaN;
  const frac = (m[3] ?? "").padEnd(3, "0").slice(0, 3);
  return Date.parse(`${m[1]}T${m[2]}.${frac}Z`);
}

/** Formats a ClickHouse DateTime64 text in UTC as ISO-8601 with milliseconds. */
export function clickHouseDateTimeToIso(text: string): string {
  const ms = fromClickHouseDateTime(text);
  return Number.isNaN(ms) ? text : new Date(ms).toISOString();
}

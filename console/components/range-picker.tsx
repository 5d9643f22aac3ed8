"use client";
// The time-range picker and auto-refresh switch of the live pages; both live in the URL.
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useEffect, useId, useState } from "react";
import { customRangeKey, customRangeProblem, formatUtcDateTime, parseCustomRange, parseUtcDateTime } from "../lib/format/custom-range";
import { RANGES } from "../lib/format/time-range";

const CUSTOM = "custom";

/**
 * A labelled select of relative ranges and "Custom range", which shows two UTC date-time inputs
 * (ISO-8601, "2026-03-01 14:30"); a custom range is applied only when both parse, the start is
 * before the end and it spans at most 90 days. Either way the choice becomes the `range` URL
 * parameter (a preset key or an ISO interval), and the page's cursor is dropped.
 */
export function RangePicker({ value }: { value: string }) {
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  const id = useId();
  const current = parseCustomRange(value);
  const [custom, setCustom] = useState(current !== null);
  const [from, setFrom] = useState(current ? formatUtcDateTime(Date.parse(current.from)) : "");
  const [to, setTo] = useState(current ? formatUtcDateTime(Date.parse(current.to)) : "");
  const [problem, setProblem] = useState("");
  // The URL is the truth: follow it when a link or the back button changes the range.
  useEffect(() => {
    const range = parseCustomRange(value);
    setCustom(range !== null);
    if (range) {
      setFrom(formatUtcDateTime(Date.parse(range.from)));
      setTo(formatUtcDateTime(Date.parse(range.to)));
    }
  }, [value]);
  const go = (range: string) => {
    const next = new URLSearchParams(params.toString());
    next.set("range", range);
    next.delete("cursor");
    router.push(`${pathname}?${next.toString()}`);
  };
  const choose = (key: string) => {
    if (key !== CUSTOM) {
      setCustom(false);
      go(key);
      return;
    }
    // Start from the window the preset showed, so a custom range is a small edit away.
    const preset = RANGES.find((r) => r.key === value) ?? RANGES[1];
    const end = Math.ceil(Date.now() / 60_000) * 60_000;
    setFrom(formatUtcDateTime(end - preset.ms));
    setTo(formatUtcDateTime(end));
    setProblem("");
    setCustom(true);
  };
  const apply = () => {
    const fromMs = parseUtcDateTime(from);
    const toMs = parseUtcDateTime(to);
    const found =
      fromMs === null ? "the start is not a date and time like 2026-03-01 14:30"
        : toMs === null ? "the end is not a date and time like 2026-03-01 16:00"
          : customRangeProblem(fromMs, toMs);
    setProblem(found);
    if (found === "" && fromMs !== null && toMs !== null) go(customRangeKey(fromMs, toMs));
  };
  return (
    <div className="range-picker">
      <span className="field field-inline">
        <label htmlFor={`${id}-range`}>Time range</label>
        <select id={`${id}-range`} value={custom ? CUSTOM : value} onChange={(e) => choose(e.target.value)}>
          {RANGES.map((r) => (
            <option key={r.key} value={r.key}>{r.label}</option>
          ))}
          <option value={CUSTOM}>Custom range…</option>
        </select>
      </span>
      {custom ? (
        <form
          className="range-custom"
          aria-label="Custom time range"
          onSubmit={(e) => {
            e.preventDefault();
            apply();
          }}
        >
          <label htmlFor={`${id}-from`}>From</label>
          <input id={`${id}-from`} type="text" inputMode="numeric" className="range-input mono" value={from} onChange={(e) => setFrom(e.target.value)} placeholder="YYYY-MM-DD HH:MM" maxLength={24} aria-invalid={problem !== "" && problem.includes("start") ? true : undefined} aria-describedby={`${id}-hint`} />
          <label htmlFor={`${id}-to`}>to</label>
          <input id={`${id}-to`} type="text" inputMode="numeric" className="range-input mono" value={to} onChange={(e) => setTo(e.target.value)} placeholder="YYYY-MM-DD HH:MM" maxLength={24} aria-invalid={problem !== "" && problem.includes("end") ? true : undefined} aria-describedby={`${id}-hint`} />
          <span className="field-hint" id={`${id}-hint`}>UTC</span>
          <button type="submit" className="btn btn-sm">Apply range</button>
          {problem ? <span className="range-problem" role="alert">{problem[0]!.toUpperCase() + problem.slice(1)}.</span> : null}
        </form>
      ) : null}
    </div>
  );
}

const INTERVALS = [
  { s: 0, label: "Off" },
  { s: 10, label: "10 s" },
  { s: 30, label: "30 s" },
  { s: 60, label: "1 min" },
];

/** Re-renders the page from the server every `refresh` seconds (URL parameter; off by default). */
export function AutoRefresh({ seconds }: { seconds: number }) {
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  useEffect(() => {
    if (!seconds) return;
    const timer = setInterval(() => router.refresh(), seconds * 1000);
    return () => clearInterval(timer);
  }, [seconds, router]);
  return (
    <label className="field field-inline">
      <span>Auto-refresh</span>
      <select
        value={String(seconds)}
        onChange={(e) => {
          const next = new URLSearchParams(params.toString());
          if (e.target.value === "0") next.delete("refresh");
          else next.set("refresh", e.target.value);
          router.replace(`${pathname}?${next.toString()}`);
        }}
      >
        {INTERVALS.map((i) => (
          <option key={i.s} value={String(i.s)}>{i.label}</option>
        ))}
      </select>
    </label>
  );
}

"use client";
// The time-range picker and auto-refresh switch of the live pages; both live in the URL.
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useEffect } from "react";
import { RANGES } from "../lib/format/time-range";

/** A labelled select of relative ranges (`range` URL parameter). */
export function RangePicker({ value }: { value: string }) {
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  return (
    <label className="field" style={{ flexDirection: "row", alignItems: "center", gap: 8 }}>
      <span>Time range</span>
      <select
        value={value}
        onChange={(e) => {
          const next = new URLSearchParams(params.toString());
          next.set("range", e.target.value);
          next.delete("cursor");
          router.push(`${pathname}?${next.toString()}`);
        }}
      >
        {RANGES.map((r) => (
          <option key={r.key} value={r.key}>{r.label}</option>
        ))}
      </select>
    </label>
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
    <label className="field" style={{ flexDirection: "row", alignItems: "center", gap: 8 }}>
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

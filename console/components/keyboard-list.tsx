"use client";
// A list (a table of links) the keyboard moves through: j/k anywhere, ↓/↑ inside, Enter opens.
import { useRef, type ReactNode } from "react";
import { useListKeyboard } from "./list-keyboard";

/** Wraps a list whose rows lead with a link matching `selector`; see useListKeyboard. */
export function KeyboardList({ selector, children }: { selector: string; children: ReactNode }) {
  const ref = useRef<HTMLDivElement>(null);
  useListKeyboard(ref, selector);
  return <div ref={ref}>{children}</div>;
}

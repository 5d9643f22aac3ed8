"use client";
// Keyboard moves through a list of rows, as in Gmail or Jaeger: j/k anywhere on the page, arrows inside the list.
import { useEffect, type RefObject } from "react";

/** Whether a key event belongs to a field the user is typing in (the list's keys then stay out of the way). */
export function isTypingTarget(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

/**
 * Binds j / k (anywhere on the page, outside text fields) and ↓ / ↑ (while focus is inside
 * `container`) to moving the focus between the elements `selector` matches inside `container`:
 * the next or previous one after the focused one, the first one when none is focused. Each is
 * expected to be a link, so Enter opens it.
 */
export function useListKeyboard(container: RefObject<HTMLElement | null>, selector: string): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || isTypingTarget(e.target)) return;
      const root = container.current;
      if (!root) return;
      const inside = e.target instanceof Node && root.contains(e.target);
      const step = e.key === "j" || (inside && e.key === "ArrowDown") ? 1 : e.key === "k" || (inside && e.key === "ArrowUp") ? -1 : 0;
      if (step === 0) return;
      const items = [...root.querySelectorAll<HTMLElement>(selector)];
      if (items.length === 0) return;
      e.preventDefault();
      const at = items.findIndex((el) => el === document.activeElement || el.contains(document.activeElement));
      const next = at < 0 ? (step > 0 ? 0 : items.length - 1) : Math.min(items.length - 1, Math.max(0, at + step));
      items[next]!.focus();
      items[next]!.scrollIntoView({ block: "nearest" });
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [container, selector]);
}

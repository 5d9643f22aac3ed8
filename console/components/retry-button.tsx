"use client";
// "Try again" for a section whose data did not arrive: renders the page again on the server,
// keeping the URL (range, filters) and everything typed into the page.
import { useRouter } from "next/navigation";
import { useTransition } from "react";

/** A button that re-renders the current page from the server; says "Retrying…" until it has. */
export function RetryButton({ onRetry }: { onRetry?: () => void }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  return (
    <button
      type="button"
      className="btn btn-sm"
      data-testid="retry"
      disabled={pending}
      onClick={() =>
        startTransition(() => {
          router.refresh();
          onRetry?.();
        })
      }
    >
      {pending ? "Retrying…" : "Try again"}
    </button>
  );
}

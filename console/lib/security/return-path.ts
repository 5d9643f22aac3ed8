// Where sign-in sends a visitor afterwards: the page they asked for, and never another site.

/** Query parameter of /sign-in naming the page to return to. */
export const RETURN_PARAM = "next";

const BASE = "http://console.invalid";

/**
 * The page a visitor may be sent back to after signing in, as a same-origin path ("/traces?x=1"),
 * or null when `raw` is not one. Refused: anything that is not a string starting with a single "/"
 * (absolute URLs, "//host" and "/\host", which browsers read as another host, "javascript:"), control
 * characters, over-long values, and /sign-in itself.
 */
export function safeReturnPath(raw: unknown): string | null {
  if (typeof raw !== "string" || raw.length === 0 || raw.length > 2048) return null;
  if (!raw.startsWith("/") || raw.startsWith("//") || raw.includes("\\")) return null;
  if (/[\u0000-\u001f\u007f]/.test(raw)) return null;
  let url: URL;
  try {
    url = new URL(raw, BASE);
  } catch {
    return null;
  }
  if (url.origin !== BASE) return null;
  if (url.pathname === "/sign-in" || url.pathname.startsWith("/sign-in/")) return null;
  return `${url.pathname}${url.search}${url.hash}`;
}

/**
 * The sign-in page that returns to `path` afterwards: "/sign-in?next=%2Ftraces" (plain "/sign-in"
 * when `path` is the console's home or not a safe path, so that the default landing page applies).
 */
export function signInPath(path: string | null | undefined): string {
  const safe = safeReturnPath(path);
  return safe === null || safe === "/" ? "/sign-in" : `/sign-in?${new URLSearchParams({ [RETURN_PARAM]: safe }).toString()}`;
}

// The console's answer to a form post it will not run: a 403 saying why, as a small page for a
// browser and as JSON otherwise. Checked in proxy.ts, before Next runs any Server Action.
import { NextResponse } from "next/server";
import { loadConfig } from "../config";
import { CSRF_FIELD, CSRF_REFUSED_MESSAGE, verifyCsrfToken } from "./csrf";

/** Why a post from another site is refused. */
export const CROSS_SITE_MESSAGE =
  "This form was sent from another site, so the console refused it. Forms are accepted only from the console's own pages: open the console and submit it there.";

/**
 * The 403 answer to a state-changing request (anything but GET, HEAD, OPTIONS) whose Origin header
 * names another host than the one it was sent to (the forwarded host behind a proxy, as Next's own
 * check reads it; an opaque "null" origin counts as another host), or null when it may go on. A
 * request without an Origin goes on: browsers send one with every post, and the CSRF token still
 * guards it.
 */
export function refusedCrossSite(method: string, headers: Headers): NextResponse | null {
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") return null;
  const origin = headers.get("origin");
  if (origin === null) return null;
  const host = headers.get("x-forwarded-host")?.split(",")[0]?.trim() || headers.get("host");
  if (host && originHost(origin) === host.toLowerCase()) return null;
  return refusal(CROSS_SITE_MESSAGE, headers);
}

/**
 * The 403 answer to a whole-page form post (a browser without JavaScript, or a forged form: a POST
 * with a form body and no `next-action` header) whose CSRF token does not match this browser's CSRF
 * cookie, or null when it may go on. The console's own script-driven forms (`next-action`) are left
 * to their Server Action, which checks the token too and shows a refusal beside the form.
 */
export async function refusedWithoutCsrf(request: Request, csrfCookie: string | undefined): Promise<NextResponse | null> {
  if (request.method !== "POST" || request.headers.has("next-action")) return null;
  const type = request.headers.get("content-type") ?? "";
  if (!type.startsWith("multipart/form-data") && !type.startsWith("application/x-www-form-urlencoded")) return null;
  // Next hands the proxy a copy of the body and the action the original.
  const form = await request.formData().catch(() => null);
  if (form && verifyCsrfToken(csrfCookie, form.get(CSRF_FIELD), loadConfig().sessionKey)) return null;
  return refusal(CSRF_REFUSED_MESSAGE, request.headers);
}

function originHost(origin: string): string | null {
  if (origin === "null") return null;
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return null;
  }
}

function refusal(message: string, headers: Headers): NextResponse {
  const security = { "cache-control": "no-store", "x-content-type-options": "nosniff", "x-frame-options": "DENY" };
  if (!(headers.get("accept") ?? "").includes("text/html")) {
    return NextResponse.json({ error: { code: "forbidden", message } }, { status: 403, headers: security });
  }
  return new NextResponse(page(message), {
    status: 403,
    headers: { ...security, "content-type": "text/html; charset=utf-8", "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'" },
  });
}

function page(message: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Form refused · Troupe</title>
<style>
body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: #f5f6fa; color: #101828; font: 14px/1.5 ui-sans-serif, system-ui, sans-serif; }
main { max-width: 420px; margin: 24px; padding: 32px; background: #fff; border: 1px solid #e4e7ec; border-radius: 10px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; background: #fef3f2; color: #b42318; border: 1px solid #fecdca; }
h1 { font-size: 22px; margin: 12px 0 8px; }
p { color: #475467; margin: 0 0 16px; }
a { color: #4f46e5; font-weight: 600; text-decoration: none; }
</style>
</head>
<body>
<main data-testid="refused">
<span class="badge">403 · Forbidden</span>
<h1>Form refused</h1>
<p>${message}</p>
<a href="/">Open the console</a>
</main>
</body>
</html>
`;
}

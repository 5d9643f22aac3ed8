import { NextResponse, type NextRequest } from "next/server";
import { CSRF_COOKIE, newCsrfSecret } from "./lib/security/csrf";
import { refusedCrossSite, refusedWithoutCsrf } from "./lib/security/refused-post";
import { PATH_HEADER } from "./lib/security/request-headers";

/**
 * Runs before every page: a fresh CSP nonce per request (Next applies it to its own scripts), and
 * the browser's CSRF cookie, created on its first visit and made visible to this same render. Form
 * posts are checked here before any Server Action runs: one from another site (its Origin names
 * another host), or a whole-page post without this browser's CSRF token, gets a 403 saying why.
 * The page asked for is passed on to the render, for sign-in to return to.
 */
export async function proxy(request: NextRequest): Promise<NextResponse> {
  const refused = refusedCrossSite(request.method, request.headers) ?? (await refusedWithoutCsrf(request, request.cookies.get(CSRF_COOKIE)?.value));
  if (refused) return refused;

  const nonce = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'`,
    // Charts set inline style attributes; no inline <style> from third parties is loaded.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");

  const requestHeaders = new Headers(request.headers);
  requestHeaders.set("x-nonce", nonce);
  requestHeaders.set("content-security-policy", csp);
  // Set here on every request, so a client can never supply it itself.
  const asked = new URL(request.nextUrl);
  asked.searchParams.delete("_rsc");
  requestHeaders.set(PATH_HEADER, `${asked.pathname}${asked.search}`);

  let newCsrf: string | undefined;
  if (!request.cookies.get(CSRF_COOKIE)?.value) {
    newCsrf = newCsrfSecret();
    const existing = request.headers.get("cookie");
    requestHeaders.set("cookie", `${existing ? existing + "; " : ""}${CSRF_COOKIE}=${newCsrf}`);
  }

  const response = NextResponse.next({ request: { headers: requestHeaders } });
  response.headers.set("content-security-policy", csp);
  if (newCsrf) {
    response.cookies.set(CSRF_COOKIE, newCsrf, {
      httpOnly: true,
      sameSite: "strict",
      secure: request.nextUrl.protocol === "https:" || request.headers.get("x-forwarded-proto") === "https",
      path: "/",
    });
  }
  return response;
}

export const config = {
  matcher: [
    {
      source: "/((?!_next/static|_next/image|favicon.ico|healthz).*)",
      missing: [
        { type: "header", key: "next-router-prefetch" },
        { type: "header", key: "purpose", value: "prefetch" },
      ],
    },
  ],
};

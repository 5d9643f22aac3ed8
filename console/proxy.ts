import { NextResponse, type NextRequest } from "next/server";

const CSRF_COOKIE = "troupe_csrf";

/**
 * Runs before every page: a fresh CSP nonce per request (Next applies it to its own scripts), and
 * the browser's CSRF cookie, created on its first visit and made visible to this same render.
 */
export function proxy(request: NextRequest): NextResponse {
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

  let newCsrf: string | undefined;
  if (!request.cookies.get(CSRF_COOKIE)?.value) {
    newCsrf = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
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

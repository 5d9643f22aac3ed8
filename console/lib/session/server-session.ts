import { cookies, headers } from "next/headers";
import { forbidden, redirect } from "next/navigation";
import { cache } from "react";
import { CollectorClient } from "../api/collector-client";
import { loadConfig } from "../config";
import { openSession, sealSession, type SessionData } from "./session-codec";

/** Name of the session cookie. */
export const SESSION_COOKIE = "troupe_session";

/** A signed-in caller and a collector client bound to their key. */
export interface SignedIn {
  session: SessionData;
  client: CollectorClient;
}

/** The current session, or null when there is none or it is invalid or expired. Cached per request. */
export const getSession = cache(async (): Promise<SessionData | null> => {
  const jar = await cookies();
  return openSession(jar.get(SESSION_COOKIE)?.value, loadConfig().sessionKey);
});

/** The signed-in caller; redirects to /sign-in when there is no valid session. */
export async function requireSession(): Promise<SignedIn> {
  const session = await getSession();
  if (!session) redirect("/sign-in");
  return { session, client: clientFor(session) };
}

/** The signed-in admin; a tenant session gets the 403 page. */
export async function requireAdmin(): Promise<SignedIn> {
  const signedIn = await requireSession();
  if (signedIn.session.kind !== "admin") forbidden();
  return signedIn;
}

/** A collector client carrying the session's key. */
export function clientFor(session: SessionData): CollectorClient {
  return new CollectorClient({ baseUrl: loadConfig().collectorUrl, key: session.key });
}

/** Whether this request reached us over HTTPS (directly or through a proxy that says so). */
export async function isHttps(): Promise<boolean> {
  const h = await headers();
  return (h.get("x-forwarded-proto") ?? "").split(",")[0]?.trim() === "https";
}

/**
 * Starts a session: an httpOnly, SameSite=Lax cookie (Secure over HTTPS) holding the sealed
 * session, expiring with it.
 */
export async function startSession(data: Omit<SessionData, "iat" | "exp">): Promise<void> {
  const { sessionKey, sessionTtlMs } = loadConfig();
  const now = Date.now();
  const sealed = sealSession({ ...data, iat: now, exp: now + sessionTtlMs }, sessionKey);
  (await cookies()).set(SESSION_COOKIE, sealed, {
    httpOnly: true,
    secure: await isHttps(),
    sameSite: "lax",
    path: "/",
    maxAge: Math.floor(sessionTtlMs / 1000),
  });
}

/** Ends the session (the cookie is deleted). */
export async function endSession(): Promise<void> {
  (await cookies()).delete(SESSION_COOKIE);
}

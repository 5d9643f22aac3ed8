import { createHash } from "node:crypto";
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

/**
 * Sessions signed out on this console process, by digest of the cookie, until they would expire: a
 * copy of the cookie taken before sign-out is refused too. Sessions are stateless otherwise, so this
 * holds per process (a restart or another instance forgets it; revoking the key ends a session everywhere).
 */
// On globalThis: Next bundles pages, actions and route handlers separately, each with its own copy of this module.
const ENDED_KEY = Symbol.for("troupe.console.endedSessions");
const endedSessions: Map<string, number> = ((globalThis as { [ENDED_KEY]?: Map<string, number> })[ENDED_KEY] ??= new Map<string, number>());
const MAX_ENDED_SESSIONS = 100_000;

function cookieDigest(value: string): string {
  return createHash("sha256").update(value).digest("base64url");
}

function rememberEnded(value: string, expMs: number): void {
  const now = Date.now();
  // Every session has the same lifetime, so insertion order is expiry order: prune from the front.
  for (const [digest, exp] of endedSessions) {
    if (exp > now && endedSessions.size < MAX_ENDED_SESSIONS) break;
    endedSessions.delete(digest);
  }
  endedSessions.set(cookieDigest(value), expMs);
}

/** The current session, or null when there is none, it is invalid or expired, or it was signed out. Cached per request. */
export const getSession = cache(async (): Promise<SessionData | null> => {
  const jar = await cookies();
  const value = jar.get(SESSION_COOKIE)?.value;
  const session = openSession(value, loadConfig().sessionKey);
  if (session === null || value === undefined || endedSessions.has(cookieDigest(value))) return null;
  return session;
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

/** Ends the session: the cookie is deleted, and this cookie value is refused from now on (see endedSessions). */
export async function endSession(): Promise<void> {
  const jar = await cookies();
  const value = jar.get(SESSION_COOKIE)?.value;
  const session = openSession(value, loadConfig().sessionKey);
  if (value !== undefined && session !== null) rememberEnded(value, session.exp);
  jar.delete(SESSION_COOKIE);
}

import { createHash } from "node:crypto";
import { cookies, headers } from "next/headers";
import { forbidden, redirect } from "next/navigation";
import { cache } from "react";
import { CollectorClient } from "../api/collector-client";
import { loadConfig } from "../config";
import { PATH_HEADER } from "../security/request-headers";
import { signInPath } from "../security/return-path";
import { openSession, sealSession, type SessionData } from "./session-codec";

/** Name of the session cookie. */
export const SESSION_COOKIE = "troupe_session";

/** A signed-in caller and a collector client bound to their key. */
export interface SignedIn {
  session: SessionData;
  client: CollectorClient;
}

/**
 * Signed-out sessions, by SHA-256 digest of the cookie, so that a copy of the cookie taken before
 * sign-out is refused too. Sign-out records the digest on the collector (`POST
 * /api/v1/sessions/ended`), where every console instance finds it, across restarts, until the session
 * would have expired. This process also keeps the digests it has seen ended (no round trip for them),
 * and trusts a "not ended" answer for REMOTE_CHECK_TTL_MS: a sign-out on another instance holds here
 * within that time.
 */
// On globalThis: Next bundles pages, actions and route handlers separately, each with its own copy of this module.
const STATE_KEY = Symbol.for("troupe.console.sessionState");
const state: { ended: Map<string, number>; notEndedUntil: Map<string, number> } = ((globalThis as { [STATE_KEY]?: typeof state })[STATE_KEY] ??= {
  ended: new Map<string, number>(),
  notEndedUntil: new Map<string, number>(),
});
const MAX_REMEMBERED = 100_000;
const REMOTE_CHECK_TTL_MS = 5_000;

function cookieDigest(value: string): string {
  return createHash("sha256").update(value).digest("base64url");
}

/** Sets `key` in a map of expiry times, pruning expired (and excess) entries from the front, oldest first, up to the first live one. */
function remember(map: Map<string, number>, key: string, until: number): void {
  const now = Date.now();
  for (const [k, v] of map) {
    if (v > now && map.size < MAX_REMEMBERED) break;
    map.delete(k);
  }
  map.delete(key);
  map.set(key, until);
}

/** Whether the session was signed out on any console instance (the collector's record); a collector that cannot answer counts as "no". */
async function endedElsewhere(digest: string, session: SessionData): Promise<boolean> {
  if ((state.notEndedUntil.get(digest) ?? 0) > Date.now()) return false;
  let ended: boolean;
  try {
    ended = await clientFor(session).isSessionEnded(digest);
  } catch {
    // The page's own requests to the collector will say what is wrong (down, key revoked).
    return false;
  }
  if (ended) remember(state.ended, digest, session.exp);
  else remember(state.notEndedUntil, digest, Date.now() + REMOTE_CHECK_TTL_MS);
  return ended;
}

/** The current session, or null when there is none, it is invalid or expired, or it was signed out. Cached per request. */
export const getSession = cache(async (): Promise<SessionData | null> => {
  const jar = await cookies();
  const value = jar.get(SESSION_COOKIE)?.value;
  const session = openSession(value, loadConfig().sessionKey);
  if (session === null || value === undefined) return null;
  const digest = cookieDigest(value);
  if (state.ended.has(digest) || (await endedElsewhere(digest, session))) return null;
  return session;
});

/**
 * The signed-in caller; without a valid session, redirects to /sign-in, which returns to the page
 * asked for once signed in.
 */
export async function requireSession(): Promise<SignedIn> {
  const session = await getSession();
  if (!session) redirect(signInPath((await headers()).get(PATH_HEADER)));
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
  const { collectorUrl, collectorTimeoutMs } = loadConfig();
  return new CollectorClient({ baseUrl: collectorUrl, key: session.key, timeoutMs: collectorTimeoutMs });
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

/**
 * Ends the session: the cookie is deleted, and this cookie value is refused from now on by every
 * console instance (see `state`). Should the collector not take the record, this instance still
 * refuses the cookie, and the failure is logged.
 */
export async function endSession(): Promise<void> {
  const jar = await cookies();
  const value = jar.get(SESSION_COOKIE)?.value;
  const session = openSession(value, loadConfig().sessionKey);
  if (value !== undefined && session !== null) {
    const digest = cookieDigest(value);
    remember(state.ended, digest, session.exp);
    state.notEndedUntil.delete(digest);
    await clientFor(session)
      .endSession(digest, session.exp)
      .catch((err: unknown) => console.error(`troupe console: sign-out not recorded on the collector (other console instances may accept this session until it expires): ${err instanceof Error ? err.message : String(err)}`));
  }
  jar.delete(SESSION_COOKIE);
}

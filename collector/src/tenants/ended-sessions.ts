import type { ClickHouseGateway } from "../store/clickhouse-gateway.js";
import { toClickHouseDateTime } from "../store/clickhouse-time.js";

/** A session digest: the base64url SHA-256 of a console session cookie (43 characters). */
export { SESSION_DIGEST_PATTERN } from "@troupe/contract/query-api";

/** The longest a console session can still be valid for when it is ended (its TTL is far shorter). */
export const MAX_SESSION_REMAINING_MS = 30 * 86_400_000;

/**
 * Console sessions that were signed out, shared by every console instance through the store and kept
 * across restarts, so a copy of a signed-out session cookie is refused everywhere until the session
 * would have expired. Only digests of cookies are stored, never a cookie or a key.
 */
export interface EndedSessions {
  /** Records that the session with this cookie digest ended; it is refused until `expiresAtMs`. */
  end(digest: string, expiresAtMs: number, keyId: string): Promise<void>;
  /** Whether the session with this cookie digest was ended (and has not expired since). */
  isEnded(digest: string): Promise<boolean>;
}

/** Ended sessions in the `ended_sessions` table (migration 0003); rows expire with their sessions (TTL). */
export function createEndedSessions(gateway: ClickHouseGateway, now: () => number = Date.now): EndedSessions {
  return {
    async end(digest, expiresAtMs, keyId) {
      await gateway.insert("ended_sessions", [{ digest, key_id: keyId, ended_at: toClickHouseDateTime(now()), expires_at: toClickHouseDateTime(expiresAtMs) }]);
    },
    async isEnded(digest) {
      const rows = await gateway.query<{ n: string | number }>(
        "SELECT count() AS n FROM ended_sessions WHERE digest = {digest:String} AND expires_at > fromUnixTimestamp64Milli({now:Int64})",
        { digest, now: now() },
      );
      return Number(rows[0]?.n ?? 0) > 0;
    },
  };
}

import { endSessionBody, sessionDigestParam, SESSION_DIGEST_RULE, type SessionEndedResponse } from "@troupe/contract/query-api";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { CollectorError } from "../errors.js";
import { requirePrincipal, type AuthVariables } from "../http/auth.js";
import { errorResponse } from "../http/error-response.js";
import { MAX_SESSION_REMAINING_MS, type EndedSessions } from "../tenants/ended-sessions.js";
import type { KeyAuthenticator } from "../tenants/principal.js";
import { jsonBody, parseParams } from "./request-params.js";

/** Dependencies of the session routes. */
export interface SessionRoutesOptions {
  authenticator: KeyAuthenticator;
  sessions: EndedSessions;
  now?: () => number;
  onInternalError?: (err: unknown) => void;
}

const MAX_BODY_BYTES = 1024;

/**
 * Console sign-out that holds on every console instance and across restarts, mounted under /api/v1:
 * `POST /sessions/ended` `{ digest, expiresAt }` records that the session whose cookie has this
 * SHA-256 digest ended (204); `GET /sessions/ended/{digest}` answers `{ ended }`. For console and
 * admin keys (the key of the session being signed out). Only digests are sent and stored: a digest
 * says nothing about the cookie or the key, and ending a session needs its cookie.
 */
export function createSessionRoutes(options: SessionRoutesOptions): Hono<{ Variables: AuthVariables }> {
  const { sessions } = options;
  const now = options.now ?? Date.now;
  const app = new Hono<{ Variables: AuthVariables }>();
  app.onError((err, c) => {
    if (!(err instanceof CollectorError) || err.code === "internal") options.onInternalError?.(err);
    return errorResponse(c, err);
  });
  app.use("/sessions/*", requirePrincipal(options.authenticator, ["console", "admin"]));
  app.use(
    "/sessions/*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new CollectorError("payload_too_large", `request body over ${MAX_BODY_BYTES} bytes`);
      },
    }),
  );

  app.post("/sessions/ended", async (c) => {
    const body = parseParams(endSessionBody, await jsonBody(c));
    if (body.expiresAt > now() + MAX_SESSION_REMAINING_MS) {
      throw new CollectorError("bad_request", `invalid parameter "expiresAt": more than ${MAX_SESSION_REMAINING_MS / 86_400_000} days away`);
    }
    // A session past its expiry is refused anyway: nothing to record.
    if (body.expiresAt > now()) await sessions.end(body.digest, body.expiresAt, c.get("principal").keyId);
    return c.body(null, 204);
  });

  app.get("/sessions/ended/:digest", async (c) => {
    const value = c.req.param("digest");
    if (!sessionDigestParam.safeParse(value).success) throw new CollectorError("bad_request", `invalid parameter "digest": ${SESSION_DIGEST_RULE}`);
    const answer: SessionEndedResponse = { ended: await sessions.isEnded(value) };
    return c.json(answer);
  });
  return app;
}

import type { MiddlewareHandler } from "hono";
import { CollectorError } from "../errors.js";
import type { KeyAuthenticator, Principal } from "../tenants/principal.js";

/** Hono variables set by the auth middleware. */
export type AuthVariables = { principal: Principal };

/**
 * Authenticates `Authorization: Bearer <key>` and admits only the given principal kinds: 401 when the
 * key is missing or unknown, 403 when it is known but of another kind. The secret is never logged.
 */
export function requirePrincipal(
  authenticator: KeyAuthenticator,
  allowed: readonly Principal["kind"][],
): MiddlewareHandler<{ Variables: AuthVariables }> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    const match = header ? /^Bearer\s+(\S{1,512})\s*$/i.exec(header) : null;
    if (!match?.[1]) {
      throw new CollectorError("unauthenticated", "missing API key: send 'Authorization: Bearer <key>'");
    }
    const principal = await authenticator.authenticate(match[1]);
    if (!principal) throw new CollectorError("unauthenticated", "unknown or revoked API key");
    if (!allowed.includes(principal.kind)) {
      throw new CollectorError("forbidden", `a ${principal.kind} key cannot use this endpoint; it needs one of: ${allowed.join(", ")}`);
    }
    c.set("principal", principal);
    await next();
  };
}

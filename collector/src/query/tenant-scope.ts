import { CollectorError } from "../errors.js";
import type { Principal } from "../tenants/principal.js";

/**
 * The tenant a read is scoped to, decided by the key: a console key reads its own tenant only (a
 * `tenant=` naming another one is 403); an admin key must name the tenant (already validated).
 */
export function resolveTenant(principal: Principal, requested: string | undefined): string {
  switch (principal.kind) {
    case "console":
      if (requested !== undefined && requested !== principal.tenantId) {
        throw new CollectorError("forbidden", "a console key can read only its own tenant");
      }
      return principal.tenantId;
    case "admin":
      if (requested === undefined) throw new CollectorError("bad_request", `invalid parameter "tenant": required with an admin key`);
      return requested;
    default:
      throw new CollectorError("forbidden", `a ${principal.kind} key cannot read data`);
  }
}

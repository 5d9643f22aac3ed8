import type { KeyAuthenticator, Principal } from "../tenants/principal.js";
import { timingSafeEqual, createHash } from "node:crypto";

/**
 * A KeyAuthenticator over a fixed map of secrets, for tests and tools. Compares SHA-256 digests in
 * constant time, as the contract requires.
 */
export class StaticKeyAuthenticator implements KeyAuthenticator {
  readonly #entries: { digest: Buffer; principal: Principal }[];

  constructor(keys: Record<string, Principal>) {
    this.#entries = Object.entries(keys).map(([secret, principal]) => ({ digest: digest(secret), principal }));
  }

  async authenticate(secret: string): Promise<Principal | null> {
    const d = digest(secret);
    let found: Principal | null = null;
    for (const e of this.#entries) if (timingSafeEqual(e.digest, d)) found = e.principal;
    return found;
  }
}

function digest(secret: string): Buffer {
  return createHash("sha256").update(secret).digest();
}

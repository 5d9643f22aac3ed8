import { InvalidArgumentError } from "../errors.js";

/** A validated tenant id. Opaque inside the runtime: never parsed, split or spliced into keys. */
export type TenantId = string & { readonly __brand: "TenantId" };

const TENANT_PATTERN = /^[a-z0-9](?:[a-z0-9_-]{0,62})$/;

/** The longest tenant id accepted. */
export const MAX_TENANT_ID_LENGTH = 63;

/**
 * Validates a tenant id at ingress: lowercase letters, digits, "_" and "-", starting with a letter or
 * digit, 1-63 characters. Throws InvalidArgumentError naming the problem otherwise.
 */
export function parseTenantId(value: unknown): TenantId {
  if (typeof value !== "string") {
    throw new InvalidArgumentError(`tenant id must be a string; got ${value === null ? "null" : typeof value}`);
  }
  if (value.length === 0 || value.length > MAX_TENANT_ID_LENGTH) {
    throw new InvalidArgumentError(`tenant id must be 1-${MAX_TENANT_ID_LENGTH} characters; got ${value.length}`);
  }
  if (!TENANT_PATTERN.test(value)) {
    throw new InvalidArgumentError(
      `tenant id ${JSON.stringify(value.slice(0, 80))} is invalid: use lowercase letters, digits, "_" and "-", starting with a letter or digit`,
    );
  }
  return value as TenantId;
}

/** True when `value` is a valid tenant id. */
export function isTenantId(value: unknown): value is TenantId {
  return typeof value === "string" && value.length <= MAX_TENANT_ID_LENGTH && TENANT_PATTERN.test(value);
}

/**
 * The tenant-id rule: what the runtime accepts at ingress and the collector accepts on the wire and
 * in its registry. Lowercase letters, digits, "_" and "-", starting with a letter or digit, 1-63
 * characters, so an id is safe in keys, subjects and URLs without escaping.
 */

/** A validated tenant id. Opaque: never parsed, split or spliced into keys. */
export type TenantId = string & { readonly __brand: "TenantId" };

const TENANT_PATTERN = /^[a-z0-9](?:[a-z0-9_-]{0,62})$/;

/** The longest tenant id accepted. */
export const MAX_TENANT_ID_LENGTH = 63;

/** True when `value` is a valid tenant id. */
export function isTenantId(value: unknown): value is TenantId {
  return typeof value === "string" && value.length <= MAX_TENANT_ID_LENGTH && TENANT_PATTERN.test(value);
}

/**
 * What is wrong with `value` as a tenant id, as a sentence naming the problem (its type, its length,
 * or the characters allowed), or undefined when it is a valid tenant id. Lets each side raise its own
 * error type with the same words.
 */
export function tenantIdProblem(value: unknown): string | undefined {
  if (typeof value !== "string") {
    return `tenant id must be a string; got ${value === null ? "null" : typeof value}`;
  }
  if (value.length === 0 || value.length > MAX_TENANT_ID_LENGTH) {
    return `tenant id must be 1-${MAX_TENANT_ID_LENGTH} characters; got ${value.length}`;
  }
  if (!TENANT_PATTERN.test(value)) {
    return `tenant id ${JSON.stringify(value.slice(0, 80))} is invalid: use lowercase letters, digits, "_" and "-", starting with a letter or digit`;
  }
  return undefined;
}

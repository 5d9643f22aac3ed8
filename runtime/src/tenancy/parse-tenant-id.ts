import { tenantIdProblem, type TenantId } from "@troupe/contract";
import { InvalidArgumentError } from "../errors.js";

/**
 * Validates a tenant id at ingress by the contract's rule: lowercase letters, digits, "_" and "-",
 * starting with a letter or digit, 1-63 characters. Throws InvalidArgumentError naming the problem
 * otherwise.
 */
export function parseTenantId(value: unknown): TenantId {
  const problem = tenantIdProblem(value);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return value as TenantId;
}

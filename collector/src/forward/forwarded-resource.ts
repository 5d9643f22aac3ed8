import { ATTR } from "@troupe/contract";
import type { AttributeTypes } from "../store/attribute-types.js";

/** A resource as forwarded: its attributes (text) and the types of those that are not strings. */
export interface ForwardedResource {
  attributes: Record<string, string>;
  types: AttributeTypes;
}

/**
 * The resource a forwarded span carries: the allow-listed attributes its resource was sent with (each
 * with its type), plus `service.name` when the resource lacked it and the service is known, and
 * `troupe.tenant.id` set to the tenant the collector authenticated (so an APM can tell tenants apart
 * even when the tenant was only on the span).
 */
export function forwardedResource(tenantId: string, serviceName: string, attributes: Record<string, string>, types: AttributeTypes): ForwardedResource {
  const out: Record<string, string> = { ...attributes };
  const outTypes: AttributeTypes = { ...types };
  if (!Object.hasOwn(out, "service.name") && serviceName !== "") out["service.name"] = serviceName;
  out[ATTR.tenantId] = tenantId;
  delete outTypes[ATTR.tenantId];
  return { attributes: out, types: outTypes };
}

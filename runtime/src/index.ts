export {};
export { ATTR, SPAN_ATTRIBUTE_ALLOW_LIST, RESOURCE_ATTRIBUTE_ALLOW_LIST, EVENT_ATTRIBUTE_ALLOW_LIST, MAX_ATTRIBUTE_VALUE_LENGTH, TENANT_BAGGAGE_KEY } from "./tracing/attributes.js";
export { parseTenantId, isTenantId } from "./tenancy/tenant-id.js";
export type { TenantId } from "./tenancy/tenant-id.js";

// @troupe/collector/testing: in-memory stand-ins for writing tests of code around the collector
// (its HTTP app, its pipelines) without ClickHouse or a tenant registry.
export { MemorySpanStore } from "./memory-span-store.js";
export { StaticKeyAuthenticator } from "./static-key-authenticator.js";

// The demo workload (@troupe/examples/demo): three tenants on the research pipeline, one
// quiet, one noisy, one at its token budget, exporting to a Troupe collector.
export { startDemo } from "./demo-workload.js";
export type { DemoOptions, RunningDemo } from "./demo-workload.js";
export { DEMO_TENANTS, provisionDemoTenants } from "./demo-provisioning.js";
export type { DemoTenant, DemoRole, DemoState } from "./demo-provisioning.js";
export { cruncherAgent } from "./cruncher-agent.js";
export type { CrunchRequest } from "./cruncher-agent.js";

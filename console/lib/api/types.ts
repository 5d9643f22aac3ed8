// The collector's query API types, defined once in the collector (collector/src/query/api-types.ts)
// and shared by its clients. Types only: nothing of the collector is bundled into the console.
export type * from "@troupe/collector/api-types";

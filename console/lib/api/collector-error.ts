// The console's name for the query API's one error class: what a collector call rejects with.
// `code` is the collector's stable code, "timeout" when it did not answer in time, "unreachable"
// when no connection could be made, "bad_response" when its answer was not the JSON expected;
// `status` is the HTTP status (0 when no answer came).
export { QueryApiError as CollectorApiError } from "@troupe/contract/query-api";

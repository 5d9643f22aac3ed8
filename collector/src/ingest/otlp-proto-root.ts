import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import protobuf from "protobufjs";

// Beside this module when running from src/; a build (dist/ingest/) reads them from src/ingest/proto,
// which the package ships with dist (package.json "files"): tsc does not copy .proto files.
const PROTO_DIR = [new URL("./proto/", import.meta.url), new URL("../../src/ingest/proto/", import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((dir) => existsSync(join(dir, "opentelemetry"))) ?? fileURLToPath(new URL("./proto/", import.meta.url));

let cached: OtlpProtoTypes | undefined;

/** The protobufjs message types of OTLP trace and logs export, loaded once from the official .proto files. */
export interface OtlpProtoTypes {
  ExportTraceServiceRequest: protobuf.Type;
  ExportTraceServiceResponse: protobuf.Type;
  ExportLogsServiceRequest: protobuf.Type;
  ExportLogsServiceResponse: protobuf.Type;
}

/** Loads (once) the OTLP trace and logs .proto files shipped in ./proto and returns the export message types. */
export function otlpProtoTypes(): OtlpProtoTypes {
  if (cached) return cached;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith("opentelemetry/") ? join(PROTO_DIR, target) : target);
  root.loadSync("opentelemetry/proto/collector/trace/v1/trace_service.proto", { keepCase: false });
  root.loadSync("opentelemetry/proto/collector/logs/v1/logs_service.proto", { keepCase: false });
  root.resolveAll();
  cached = {
    ExportTraceServiceRequest: root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"),
    ExportTraceServiceResponse: root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse"),
    ExportLogsServiceRequest: root.lookupType("opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest"),
    ExportLogsServiceResponse: root.lookupType("opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse"),
  };
  return cached;
}

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import protobuf from "protobufjs";

const PROTO_DIR = fileURLToPath(new URL("./proto/", import.meta.url));

let cached: OtlpProtoTypes | undefined;

/** The protobufjs message types of OTLP trace export, loaded once from the official .proto files. */
export interface OtlpProtoTypes {
  ExportTraceServiceRequest: protobuf.Type;
  ExportTraceServiceResponse: protobuf.Type;
}

/** Loads (once) the OTLP trace .proto files shipped in ./proto and returns the export message types. */
export function otlpProtoTypes(): OtlpProtoTypes {
  if (cached) return cached;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith("opentelemetry/") ? join(PROTO_DIR, target) : target);
  root.loadSync("opentelemetry/proto/collector/trace/v1/trace_service.proto", { keepCase: false });
  root.resolveAll();
  cached = {
    ExportTraceServiceRequest: root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"),
    ExportTraceServiceResponse: root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse"),
  };
  return cached;
}

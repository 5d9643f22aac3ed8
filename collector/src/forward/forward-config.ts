import { z } from "zod";
import type { OtlpWireFormat } from "./otlp-encode.js";

/** A forwarding destination as configured (the rest of ForwardDestinationOptions keeps its defaults). */
export interface ForwardDestinationConfig {
  /** The `destination` label in /metrics and the name in log lines; default: the endpoint's host. */
  name: string;
  endpoint: string;
  headers: Record<string, string>;
  format: OtlpWireFormat;
  maxQueueSpans?: number;
  maxQueueBytes?: number;
}

/** The variable holding a JSON array of destinations, beside the single TROUPE_FORWARD_OTLP_ENDPOINT. */
export const FORWARD_DESTINATIONS_VARIABLE = "TROUPE_FORWARD_OTLP_DESTINATIONS";

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** http(s) URLs only. */
export const httpUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}, "must be an http(s) URL");

/** OTEL_EXPORTER_OTLP_PROTOCOL's names (grpc excepted), and the short forms. */
export const protocol = z.enum(["http/protobuf", "http/json", "protobuf", "json"], { error: "must be http/protobuf or http/json" });

/** The body encoding a protocol name means. */
export function formatOf(name: z.infer<typeof protocol> | undefined): OtlpWireFormat {
  return name?.endsWith("json") ? "json" : "protobuf";
}

const DestinationSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, "must be 1-64 letters, digits, '_', '.', ':' or '-' (it names the destination in /metrics)")
      .optional(),
    endpoint: httpUrl,
    headers: z
      .record(z.string(), z.string())
      .superRefine((headers, ctx) => {
        for (const name of Object.keys(headers)) if (!HEADER_NAME.test(name)) ctx.addIssue({ code: "custom", path: [name], message: "must be an HTTP header name" });
      })
      .optional(),
    protocol: protocol.optional(),
    maxQueueSpans: z.number().int().min(1, "must be at least 1").optional(),
    maxQueueBytes: z.number().int().min(1024 * 1024, "must be at least 1048576 bytes").optional(),
  })
  .strict();

/**
 * The destinations of TROUPE_FORWARD_OTLP_DESTINATIONS: a JSON array of
 * `{ "name", "endpoint", "headers": { "k": "v" }, "protocol": "http/protobuf" | "http/json", "maxQueueSpans", "maxQueueBytes" }`
 * (only `endpoint` required; unknown fields refused). Returns the problems instead when there are
 * any, each naming the variable and the field (`TROUPE_FORWARD_OTLP_DESTINATIONS[1].endpoint: must be an http(s) URL`).
 */
export function parseForwardDestinations(text: string): { destinations: ForwardDestinationConfig[]; problems: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { destinations: [], problems: [`${FORWARD_DESTINATIONS_VARIABLE}: not valid JSON (${(err as Error).message})`] };
  }
  const parsed = z.array(DestinationSchema).min(1, "must list at least one destination").safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${FORWARD_DESTINATIONS_VARIABLE}${i.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}: ${i.message}`);
    return { destinations: [], problems };
  }
  const destinations = parsed.data.map((d) => ({
    name: d.name ?? new URL(d.endpoint).host,
    endpoint: d.endpoint,
    headers: Object.fromEntries(Object.entries(d.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    format: formatOf(d.protocol),
    ...(d.maxQueueSpans !== undefined ? { maxQueueSpans: d.maxQueueSpans } : {}),
    ...(d.maxQueueBytes !== undefined ? { maxQueueBytes: d.maxQueueBytes } : {}),
  }));
  return { destinations, problems: [] };
}

/** Problems with the names of all configured destinations together (each must be distinct: it labels their metrics). */
export function duplicateNameProblems(destinations: readonly ForwardDestinationConfig[]): string[] {
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const d of destinations) {
    if (seen.has(d.name)) problems.push(`${FORWARD_DESTINATIONS_VARIABLE}: two destinations are named ${JSON.stringify(d.name)}; give each a distinct "name"`);
    seen.add(d.name);
  }
  return problems;
}

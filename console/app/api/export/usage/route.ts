import type { NextRequest } from "next/server";
import { CollectorApiError } from "../../../../lib/api/collector-error";
import { parseUsageQuery } from "../../../../lib/format/usage-query";
import { clientFor, getSession } from "../../../../lib/session/server-session";

/**
 * Downloads a usage report (CSV or JSON) for any range, proxied from the collector with the
 * session's key. Read-only (GET), so it needs no CSRF token; the session cookie is SameSite=Lax.
 */
export async function GET(request: NextRequest): Promise<Response> {
  const session = await getSession();
  if (!session) return problem(401, "unauthenticated", "Sign in to download usage reports.");
  const raw = Object.fromEntries(request.nextUrl.searchParams);
  const { query, error } = parseUsageQuery(raw);
  if (error) return problem(400, "bad_request", error);
  const format = raw.format ?? "csv";
  if (format !== "csv" && format !== "json") return problem(400, "bad_request", `"format" must be csv or json; got "${format}"`);
  const tenant = session.kind === "admin" ? raw.tenant : undefined;
  if (session.kind === "admin" && !tenant) return problem(400, "bad_request", 'an admin download needs "tenant"');

  try {
    const upstream = await clientFor(session).usageExport({ tenant, from: query.from, to: query.to, groupBy: query.groupBy, format });
    const who = (session.kind === "admin" ? tenant! : session.tenantId).replace(/[^a-z0-9_-]/gi, "_");
    const filename = `troupe-usage-${who}-${query.fromDay}-to-${query.toDay}-by-${query.groupBy}.${format}`;
    return new Response(upstream.body, {
      headers: {
        "content-type": format === "csv" ? "text/csv; charset=utf-8" : "application/json; charset=utf-8",
        "content-disposition": `attachment; filename="${filename}"`,
        "cache-control": "no-store",
      },
    });
  } catch (err) {
    // No answer: 504 when the collector was too slow, 502 when it could not be reached.
    if (err instanceof CollectorApiError) return problem(err.status || (err.code === "timeout" ? 504 : 502), err.code, err.message);
    return problem(500, "internal", "the usage report could not be produced");
  }
}

function problem(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status, headers: { "cache-control": "no-store" } });
}

export const dynamic = "force-dynamic";

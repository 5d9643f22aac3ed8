import type { CreateServiceKeyRequest, CreateTenantRequest, EndSessionRequest, IssueKeyRequest, SetWebhookRequest, UpdateTenantRequest } from "./admin-bodies.js";
import type {
  AdminTenantDetailResponse,
  AdminTenantListResponse,
  AdminTenantsResponse,
  BudgetResponse,
  CreateServiceKeyResponse,
  CreateTenantResponse,
  IssueKeyResponse,
  RemoveWebhookResponse,
  RevokeKeyResponse,
  SessionEndedResponse,
  SetWebhookResponse,
  TenantAlertsResponse,
  TenantRuntimesResponse,
  UpdateTenantResponse,
  WebhookDelivery,
} from "./admin-responses.js";
import { QueryApiError, type ApiErrorCode } from "./errors.js";
import type {
  AdminTenantParams,
  AdminTenantsParams,
  AgentsParams,
  AlertsParams,
  BudgetParams,
  ConversationsParams,
  OverviewParams,
  SamplingParams,
  TraceParams,
  TraceSearchParams,
  UsageParams,
} from "./query-params.js";
import type { AgentsResponse, OverviewResponse, UsageResponse } from "./report-responses.js";
import type { ConversationsResponse, SamplingResponse, TraceDetailResponse, TraceSearchResponse } from "./trace-responses.js";

/** Options of a QueryApiClient. */
export interface QueryApiClientOptions {
  /** Base URL of the collector, e.g. http://127.0.0.1:4318 (trailing slashes are ignored). */
  baseUrl: string;
  /** The console or admin key, sent as `Authorization: Bearer <key>`. */
  key: string;
  /** Per-request timeout, head and body; default 15 s. Past it a call rejects with code "timeout". */
  timeoutMs?: number;
  /** The fetch to use (default: the global one), e.g. one answering from in-process routes. */
  fetch?: typeof fetch;
}

/** A CSV download's parameters: the endpoint's parameters without `format`. */
type WithoutFormat<P> = Omit<P, "format">;
type QueryValue = string | number | boolean | null | undefined | readonly (string | number)[];
type Query = { readonly [name: string]: QueryValue };

/** The default per-request timeout. */
export const DEFAULT_QUERY_API_TIMEOUT_MS = 15_000;
const MAX_ANSWER_TEXT = 300;

/**
 * The typed client of the collector's query and admin API (`/api/v1`), one method per endpoint.
 * It uses fetch only (no Node-only API), so server code, browsers and the CLI can all use it.
 * Guarantees: every call carries the client's key, so the collector scopes it, and the client never
 * adds a tenant of its own; parameters left undefined, null or "" are not sent; path segments are
 * URL-encoded. Every failure rejects with a QueryApiError: the collector's code and message when it
 * answered with an error, "timeout" when no whole answer came within `timeoutMs`, "unreachable"
 * when no connection could be made, "bad_response" when a 2xx body is not the JSON expected.
 */
export class QueryApiClient {
  /** The collector's base URL, without trailing slashes. */
  readonly baseUrl: string;
  /** The per-request timeout in force. */
  readonly timeoutMs: number;
  readonly #key: string;
  readonly #fetch: typeof fetch;

  constructor(options: QueryApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#key = options.key;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_QUERY_API_TIMEOUT_MS;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** GET /traces: a page of the tenant's traces, newest first, with the cursor of the next page. */
  traces(params: WithoutFormat<TraceSearchParams> = {}): Promise<TraceSearchResponse> {
    return this.#json("GET", "/api/v1/traces", { ...params, format: undefined });
  }

  /** GET /traces?format=csv: the same page as CSV text. */
  tracesCsv(params: WithoutFormat<TraceSearchParams> = {}): Promise<string> {
    return this.#text("GET", "/api/v1/traces", { ...params, format: "csv" });
  }

  /** GET /traces/{traceId}: one trace's span tree; rejects with "not_found" when the trace is not the caller's. */
  trace(traceId: string, params: TraceParams = {}): Promise<TraceDetailResponse> {
    return this.#json("GET", `/api/v1/traces/${encodeURIComponent(traceId)}`, { ...params });
  }

  /** GET /agents: figures per agent type over the range. */
  agents(params: WithoutFormat<AgentsParams> = {}): Promise<AgentsResponse> {
    return this.#json("GET", "/api/v1/agents", { ...params, format: undefined });
  }

  /** GET /agents?format=csv: the same figures as CSV text. */
  agentsCsv(params: WithoutFormat<AgentsParams> = {}): Promise<string> {
    return this.#text("GET", "/api/v1/agents", { ...params, format: "csv" });
  }

  /** GET /usage: the usage report (exact, from usage records) grouped by `groupBy`. */
  usage(params: WithoutFormat<UsageParams> = {}): Promise<UsageResponse> {
    return this.#json("GET", "/api/v1/usage", { ...params, format: "json" });
  }

  /** GET /usage?format=csv: the usage report as CSV text. */
  usageCsv(params: WithoutFormat<UsageParams> = {}): Promise<string> {
    return this.#text("GET", "/api/v1/usage", { ...params, format: "csv" });
  }

  /** GET /usage in either format, as the collector's raw 2xx answer (for streaming a download). */
  usageExport(params: UsageParams & { format: "json" | "csv" }): Promise<Response> {
    return this.#request("GET", "/api/v1/usage", { ...params });
  }

  /** GET /overview: the console home page's series, totals, top agents and sampling. */
  overview(params: OverviewParams = {}): Promise<OverviewResponse> {
    return this.#json("GET", "/api/v1/overview", { ...params });
  }

  /** GET /sampling: the trace sampling in force over a range (whether span and trace counts cover only the kept traces). */
  sampling(params: SamplingParams = {}): Promise<SamplingResponse> {
    return this.#json("GET", "/api/v1/sampling", { ...params });
  }

  /** GET /conversations: conversations (spans grouped by `gen_ai.conversation.id`) active in a range, most recent first. */
  conversations(params: ConversationsParams = {}): Promise<ConversationsResponse> {
    return this.#json("GET", "/api/v1/conversations", { ...params });
  }

  /** GET /budget: a tenant's budgets and where it stands against them (a console key's own tenant, or the one an admin key names). */
  budget(params: BudgetParams = {}): Promise<BudgetResponse> {
    return this.#json("GET", "/api/v1/budget", { ...params });
  }

  /** GET /alerts: a tenant's own budget alerts, without the delivery log. */
  alerts(params: AlertsParams = {}): Promise<TenantAlertsResponse> {
    return this.#json("GET", "/api/v1/alerts", { ...params });
  }

  /** Admin: GET /admin/tenant-list, every tenant's settings sorted by id, without activity (cheap: for pickers and key checks). */
  adminTenantList(): Promise<AdminTenantListResponse> {
    return this.#json("GET", "/api/v1/admin/tenant-list", {});
  }

  /** Admin: GET /admin/tenants, every tenant with its activity and budget state over the range. */
  adminTenants(params: WithoutFormat<AdminTenantsParams> = {}): Promise<AdminTenantsResponse> {
    return this.#json("GET", "/api/v1/admin/tenants", { ...params, format: undefined });
  }

  /** Admin: GET /admin/tenants?format=csv, the same rows as CSV text. */
  adminTenantsCsv(params: WithoutFormat<AdminTenantsParams> = {}): Promise<string> {
    return this.#text("GET", "/api/v1/admin/tenants", { ...params, format: "csv" });
  }

  /** Admin: GET /admin/tenants/{id}, one tenant, its keys and its activity over the range; "not_found" when it does not exist. */
  adminTenant(id: string, params: AdminTenantParams = {}): Promise<AdminTenantDetailResponse> {
    return this.#json("GET", tenantPath(id), { ...params });
  }

  /** Admin: POST /admin/tenants, creates a tenant and issues its keys (their secrets are in this answer only); "conflict" when the id exists. */
  createTenant(body: CreateTenantRequest): Promise<CreateTenantResponse> {
    return this.#json("POST", "/api/v1/admin/tenants", {}, body);
  }

  /** Admin: PUT /admin/tenants/{id}, changes the fields given (objects merge field by field; null clears one). */
  updateTenant(id: string, body: UpdateTenantRequest): Promise<UpdateTenantResponse> {
    return this.#json("PUT", tenantPath(id), {}, body);
  }

  /** Admin: GET /admin/tenants/{id}/runtimes, the runtimes that read the tenant's settings within the last 24 h. */
  tenantRuntimes(id: string): Promise<TenantRuntimesResponse> {
    return this.#json("GET", `${tenantPath(id)}/runtimes`, {});
  }

  /** Admin: GET /admin/tenants/{id}/alerts, the tenant's alerts, webhook (never its secret) and latest delivery attempts. */
  tenantAlerts(id: string): Promise<TenantAlertsResponse> {
    return this.#json("GET", `${tenantPath(id)}/alerts`, {});
  }

  /** Admin: POST /admin/tenants/{id}/keys, issues a key (with `rotate`, revoking the kind's other active keys). */
  issueKey(id: string, body: IssueKeyRequest): Promise<IssueKeyResponse> {
    return this.#json("POST", `${tenantPath(id)}/keys`, {}, body);
  }

  /** Admin: POST /admin/service-keys, an ingest key for a runtime serving several tenants. */
  createServiceKey(body: CreateServiceKeyRequest): Promise<CreateServiceKeyResponse> {
    return this.#json("POST", "/api/v1/admin/service-keys", {}, body);
  }

  /** Admin: DELETE /admin/keys/{keyId}, revokes a key. */
  revokeKey(keyId: string): Promise<RevokeKeyResponse> {
    return this.#json("DELETE", `/api/v1/admin/keys/${encodeURIComponent(keyId)}`, {});
  }

  /** Admin: PUT /admin/tenants/{id}/webhook, sets the alert webhook; the answer carries its signing secret, this once. */
  setWebhook(id: string, body: SetWebhookRequest): Promise<SetWebhookResponse> {
    return this.#json("PUT", `${tenantPath(id)}/webhook`, {}, body);
  }

  /** Admin: DELETE /admin/tenants/{id}/webhook, removes the alert webhook (alerts are still recorded). */
  removeWebhook(id: string): Promise<RemoveWebhookResponse> {
    return this.#json("DELETE", `${tenantPath(id)}/webhook`, {});
  }

  /** Admin: POST /admin/tenants/{id}/webhook/test, sends a "test" event now and resolves with that attempt. */
  testWebhook(id: string): Promise<WebhookDelivery> {
    return this.#json("POST", `${tenantPath(id)}/webhook/test`, {}, {});
  }

  /** POST /sessions/ended: records that the console session whose cookie has this digest was signed out. */
  async endSession(body: EndSessionRequest): Promise<void> {
    const res = await this.#request("POST", "/api/v1/sessions/ended", {}, body);
    // Drain the (empty) body so the connection can be reused.
    await res.arrayBuffer().catch(() => undefined);
  }

  /** GET /sessions/ended/{digest}: whether the console session whose cookie has this digest was signed out. */
  sessionEnded(digest: string): Promise<SessionEndedResponse> {
    return this.#json("GET", `/api/v1/sessions/ended/${encodeURIComponent(digest)}`, {});
  }

  async #json<T>(method: string, path: string, query: Query, body?: unknown): Promise<T> {
    const res = await this.#request(method, path, query, body);
    try {
      return (await res.json()) as T;
    } catch (err) {
      if (isTimeout(err)) throw this.#noAnswer(method, path, err);
      throw new QueryApiError("bad_response", res.status, `the collector answered ${method} ${path} with a body that is not JSON`, { cause: err, method, path });
    }
  }

  async #text(method: string, path: string, query: Query): Promise<string> {
    const res = await this.#request(method, path, query);
    try {
      return await res.text();
    } catch (err) {
      throw this.#noAnswer(method, path, err);
    }
  }

  /**
   * Why no (whole) answer came: "timeout" when the request ran past `timeoutMs` (the collector may
   * be up and busy), "unreachable" when no connection could be made or it broke (refused, reset,
   * unknown host).
   */
  #noAnswer(method: string, path: string, err: unknown): QueryApiError {
    if (isTimeout(err)) {
      return new QueryApiError("timeout", 0, `the collector at ${this.baseUrl} did not answer ${method} ${path} within ${this.timeoutMs} ms`, { cause: err, method, path });
    }
    const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : "";
    return new QueryApiError("unreachable", 0, `the collector at ${this.baseUrl} could not be reached${cause}`, { cause: err, method, path });
  }

  /** Sends one request; resolves with a 2xx answer, rejects with a QueryApiError otherwise. */
  async #request(method: string, path: string, query: Query, body?: unknown): Promise<Response> {
    const url = new URL(this.baseUrl + path);
    for (const [name, value] of Object.entries(query)) {
      for (const one of Array.isArray(value) ? value : [value]) {
        if (one !== undefined && one !== null && one !== "") url.searchParams.append(name, String(one));
      }
    }
    const headers: Record<string, string> = { authorization: `Bearer ${this.#key}`, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    const init = {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
      // Answers depend on the moment and the key: a framework's fetch cache (Next.js) must not keep them.
      cache: "no-store" as const,
    };
    let res: Response;
    try {
      res = await this.#fetch(url, init);
    } catch (err) {
      throw this.#noAnswer(method, path, err);
    }
    if (res.ok) return res;
    throw await errorOf(res, method, path);
  }
}

function tenantPath(id: string): string {
  return `/api/v1/admin/tenants/${encodeURIComponent(id)}`;
}

/**
 * The QueryApiError of a non-2xx answer: the collector's code and message from its JSON error body;
 * for any other body, a code guessed from the status and the body's start kept as `answerText`.
 */
async function errorOf(res: Response, method: string, path: string): Promise<QueryApiError> {
  let text = "";
  try {
    text = await res.text();
  } catch {
    // The body broke off (or timed out): the status still says what happened.
  }
  let code: ApiErrorCode | undefined;
  let message: string | undefined;
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } } | null;
    if (typeof parsed?.error?.code === "string") code = parsed.error.code as ApiErrorCode;
    if (typeof parsed?.error?.message === "string") message = parsed.error.message;
  } catch {
    code = res.status === 404 ? "not_found" : res.status === 401 ? "unauthenticated" : res.status === 403 ? "forbidden" : undefined;
  }
  return new QueryApiError(code ?? "internal", res.status, message ?? `the collector answered ${res.status} to ${method} ${path}`, {
    method,
    path,
    ...(message === undefined ? { answerText: text.slice(0, MAX_ANSWER_TEXT) } : {}),
  });
}

/** Whether a fetch failed because its AbortSignal.timeout fired (while waiting for the head or the body). */
function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.name === "TimeoutError";
}

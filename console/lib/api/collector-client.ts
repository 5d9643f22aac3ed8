import { CollectorApiError } from "./collector-error";
import type {
  AdminTenantDetailResponse,
  AdminTenantsParams,
  AdminTenantsResponse,
  AgentsParams,
  AgentsResponse,
  ConversationsParams,
  ConversationsResponse,
  BudgetParams,
  BudgetResponse,
  CreateTenantRequest,
  CreateTenantResponse,
  IssueKeyRequest,
  IssueKeyResponse,
  OverviewParams,
  OverviewResponse,
  SamplingParams,
  SamplingResponse,
  SessionEndedResponse,
  SetWebhookRequest,
  SetWebhookResponse,
  TenantAlertsResponse,
  TenantRuntimesResponse,
  TraceDetailResponse,
  TraceSearchParams,
  TraceSearchResponse,
  UpdateTenantRequest,
  UpdateTenantResponse,
  UsageParams,
  UsageResponse,
  WebhookDelivery,
} from "./types";

/** Who a key belongs to, as far as the console needs to know. */
export type KeyIdentity = { kind: "admin" } | { kind: "console"; tenantId: string };

/** Options of a CollectorClient. */
export interface CollectorClientOptions {
  /** Base URL of the collector, e.g. http://127.0.0.1:4318. */
  baseUrl: string;
  /** The console or admin key sent as `Authorization: Bearer`. */
  key: string;
  /** Per-request timeout, head and body; default 15 s. Past it a call rejects with code `timeout`. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | undefined | null>;

/**
 * Typed client of the collector's query and admin API (paths fixed in ../shared/DESIGN.md). Every
 * call carries the caller's key, so the collector scopes it; the client never adds a tenant on its
 * own. Non-2xx answers reject with CollectorApiError carrying the collector's code and message; no
 * answer rejects with `timeout` (none within `timeoutMs`) or `unreachable` (no connection).
 */
export class CollectorClient {
  readonly #baseUrl: string;
  readonly #key: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: CollectorClientOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#key = options.key;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    this.#fetch = options.fetch ?? fetch;
  }

  /**
   * Decides what the key is: an admin key, or a tenant console key (and its tenant). Rejects with
   * `unauthenticated` for an unknown or revoked key and `forbidden` for a key that may not read
   * (an ingest key).
   */
  async identify(): Promise<KeyIdentity> {
    const now = Date.now();
    try {
      await this.#json<AdminTenantsResponse>("GET", "/api/v1/admin/tenants", { from: now - 1, to: now });
      return { kind: "admin" };
    } catch (err) {
      if (!(err instanceof CollectorApiError) || err.code !== "forbidden") throw err;
    }
    const page = await this.#json<TraceSearchResponse>("GET", "/api/v1/traces", { limit: 1, from: now - 1, to: now });
    return { kind: "console", tenantId: page.tenantId };
  }

  overview(params: OverviewParams): Promise<OverviewResponse> {
    return this.#json("GET", "/api/v1/overview", { ...params });
  }

  traces(params: TraceSearchParams): Promise<TraceSearchResponse> {
    return this.#json("GET", "/api/v1/traces", { ...params });
  }

  /** The trace sampling in force over a range (whether span and trace counts cover only the kept traces). */
  sampling(params: SamplingParams): Promise<SamplingResponse> {
    return this.#json("GET", "/api/v1/sampling", { ...params });
  }

  /** One trace's span tree; rejects with `not_found` when the trace is not the caller's. */
  trace(traceId: string, tenant?: string): Promise<TraceDetailResponse> {
    return this.#json("GET", `/api/v1/traces/${encodeURIComponent(traceId)}`, { tenant });
  }

  /** Conversations (spans grouped by `gen_ai.conversation.id`) active in a range, most recent first. */
  conversations(params: ConversationsParams): Promise<ConversationsResponse> {
    return this.#json("GET", "/api/v1/conversations", { ...params });
  }

  agents(params: AgentsParams): Promise<AgentsResponse> {
    return this.#json("GET", "/api/v1/agents", { ...params, format: undefined });
  }

  usage(params: UsageParams): Promise<UsageResponse> {
    return this.#json("GET", "/api/v1/usage", { ...params, format: "json" });
  }

  /** The raw usage report (CSV or JSON) as the collector streams it, for downloads. */
  async usageExport(params: UsageParams & { format: "json" | "csv" }): Promise<Response> {
    return this.#request("GET", "/api/v1/usage", { ...params });
  }

  adminTenants(params: AdminTenantsParams = {}): Promise<AdminTenantsResponse> {
    return this.#json("GET", "/api/v1/admin/tenants", { ...params, format: undefined });
  }

  /** Admin: one tenant, its keys, and its activity over the range (default: the last 24 h), with shares of all tenants as on the list. */
  adminTenant(id: string, range: Pick<AdminTenantsParams, "from" | "to"> = {}): Promise<AdminTenantDetailResponse> {
    return this.#json("GET", `/api/v1/admin/tenants/${encodeURIComponent(id)}`, { ...range });
  }

  createTenant(body: CreateTenantRequest): Promise<CreateTenantResponse> {
    return this.#json("POST", "/api/v1/admin/tenants", {}, body);
  }

  updateTenant(id: string, body: UpdateTenantRequest): Promise<UpdateTenantResponse> {
    return this.#json("PUT", `/api/v1/admin/tenants/${encodeURIComponent(id)}`, {}, body);
  }

  issueKey(id: string, body: IssueKeyRequest): Promise<IssueKeyResponse> {
    return this.#json("POST", `/api/v1/admin/tenants/${encodeURIComponent(id)}/keys`, {}, body);
  }

  /** Admin: the runtimes that checked in for a tenant's settings within the last 24 h, and the version each applied. */
  tenantRuntimes(id: string): Promise<TenantRuntimesResponse> {
    return this.#json("GET", `/api/v1/admin/tenants/${encodeURIComponent(id)}/runtimes`, {});
  }

  /** Admin: a tenant's budget alerts, its webhook (never the secret) and the latest delivery attempts. */
  tenantAlerts(id: string): Promise<TenantAlertsResponse> {
    return this.#json("GET", `/api/v1/admin/tenants/${encodeURIComponent(id)}/alerts`, {});
  }

  /** A tenant's budgets and where it stands against them: a console key's own tenant, or the one an admin key names. */
  budget(params: BudgetParams = {}): Promise<BudgetResponse> {
    return this.#json("GET", "/api/v1/budget", { ...params });
  }

  /** A console key's own budget alerts (no delivery log). */
  ownAlerts(): Promise<TenantAlertsResponse> {
    return this.#json("GET", "/api/v1/alerts", {});
  }

  /** Admin: sets a tenant's alert webhook; the answer carries its signing secret, this once. */
  setWebhook(id: string, body: SetWebhookRequest): Promise<SetWebhookResponse> {
    return this.#json("PUT", `/api/v1/admin/tenants/${encodeURIComponent(id)}/webhook`, {}, body);
  }

  /** Admin: removes a tenant's alert webhook. */
  async deleteWebhook(id: string): Promise<void> {
    await this.#request("DELETE", `/api/v1/admin/tenants/${encodeURIComponent(id)}/webhook`, {});
  }

  /** Admin: sends a "test" event to the tenant's webhook and resolves with that attempt. */
  testWebhook(id: string): Promise<WebhookDelivery> {
    return this.#json("POST", `/api/v1/admin/tenants/${encodeURIComponent(id)}/webhook/test`, {}, {});
  }

  /** Records on the collector that the session whose cookie has this SHA-256 digest was signed out (until `expiresAt`, epoch ms). */
  async endSession(digest: string, expiresAt: number): Promise<void> {
    await this.#request("POST", "/api/v1/sessions/ended", {}, { digest, expiresAt });
  }

  /** Whether the session whose cookie has this digest was signed out, on any console instance. */
  async isSessionEnded(digest: string): Promise<boolean> {
    return (await this.#json<SessionEndedResponse>("GET", `/api/v1/sessions/ended/${encodeURIComponent(digest)}`, {})).ended;
  }

  async #json<T>(method: string, path: string, query: Query, body?: unknown): Promise<T> {
    const res = await this.#request(method, path, query, body);
    try {
      return (await res.json()) as T;
    } catch (err) {
      if (isTimeout(err)) throw this.#noAnswer(method, path, err);
      throw new CollectorApiError("bad_response", res.status, `the collector answered ${method} ${path} with a body that is not JSON`, { cause: err });
    }
  }

  /**
   * Why no (whole) answer came: `timeout` when the request ran past `timeoutMs` (the collector may be
   * up and busy), `unreachable` when no connection could be made or it broke (refused, reset, unknown
   * host).
   */
  #noAnswer(method: string, path: string, err: unknown): CollectorApiError {
    if (isTimeout(err)) {
      return new CollectorApiError("timeout", 0, `the collector at ${this.#baseUrl} did not answer ${method} ${path} within ${this.#timeoutMs} ms`, { cause: err });
    }
    const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : "";
    return new CollectorApiError("unreachable", 0, `the collector at ${this.#baseUrl} could not be reached${cause}`, { cause: err });
  }

  async #request(method: string, path: string, query: Query, body?: unknown): Promise<Response> {
    const url = new URL(this.#baseUrl + path);
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { authorization: `Bearer ${this.#key}`, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
        cache: "no-store",
      });
    } catch (err) {
      throw this.#noAnswer(method, path, err);
    }
    if (res.ok) return res;
    let code: CollectorApiError["code"] = "internal";
    let message = `the collector answered ${res.status} to ${method} ${path}`;
    try {
      const parsed = (await res.json()) as { error?: { code?: string; message?: string } };
      if (parsed.error?.code) code = parsed.error.code as CollectorApiError["code"];
      if (parsed.error?.message) message = parsed.error.message;
    } catch {
      if (res.status === 404) code = "not_found";
      else if (res.status === 401) code = "unauthenticated";
      else if (res.status === 403) code = "forbidden";
    }
    throw new CollectorApiError(code, res.status, message);
  }
}

/** Whether a fetch failed because its AbortSignal.timeout fired (while waiting for the head or the body). */
function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.name === "TimeoutError";
}

import {
  QueryApiClient,
  QueryApiError,
  type AdminTenantDetailResponse,
  type AdminTenantParams,
  type AdminTenantListResponse,
  type AdminTenantsParams,
  type AdminTenantsResponse,
  type AgentsParams,
  type AgentsResponse,
  type BudgetParams,
  type BudgetResponse,
  type ConversationsParams,
  type ConversationsResponse,
  type CreateTenantRequest,
  type CreateTenantResponse,
  type IssueKeyRequest,
  type IssueKeyResponse,
  type OverviewParams,
  type OverviewResponse,
  type SamplingParams,
  type SamplingResponse,
  type SetWebhookRequest,
  type SetWebhookResponse,
  type TenantAlertsResponse,
  type TenantRuntimesResponse,
  type TraceDetailResponse,
  type TraceSearchParams,
  type TraceSearchResponse,
  type UpdateTenantRequest,
  type UpdateTenantResponse,
  type UsageParams,
  type UsageResponse,
  type WebhookDelivery,
} from "@troupe/contract/query-api";

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

/**
 * The console's view of the collector's query and admin API: the contract's QueryApiClient with
 * what only the console needs on top (which kind of key a session holds, its sign-out calls, the
 * method names its pages use). Every call carries the caller's key, so the collector scopes it; the
 * client never adds a tenant of its own. Failures reject with CollectorApiError (the contract's
 * QueryApiError), telling a slow collector (`timeout`) from one that cannot be reached (`unreachable`).
 */
export class CollectorClient {
  readonly #api: QueryApiClient;

  constructor(options: CollectorClientOptions) {
    this.#api = new QueryApiClient(options);
  }

  /**
   * Decides what the key is: an admin key, or a tenant console key (and its tenant). Rejects with
   * `unauthenticated` for an unknown or revoked key and `forbidden` for a key that may not read
   * (an ingest key).
   */
  async identify(): Promise<KeyIdentity> {
    try {
      await this.#api.adminTenantList();
      return { kind: "admin" };
    } catch (err) {
      if (!(err instanceof QueryApiError) || err.code !== "forbidden") throw err;
    }
    const now = Date.now();
    const page = await this.#api.traces({ limit: 1, from: now - 1, to: now });
    return { kind: "console", tenantId: page.tenantId };
  }

  overview(params: OverviewParams): Promise<OverviewResponse> {
    return this.#api.overview(params);
  }

  traces(params: Omit<TraceSearchParams, "format">): Promise<TraceSearchResponse> {
    return this.#api.traces(params);
  }

  /** The trace sampling in force over a range (whether span and trace counts cover only the kept traces). */
  sampling(params: SamplingParams): Promise<SamplingResponse> {
    return this.#api.sampling(params);
  }

  /** One trace's span tree; rejects with `not_found` when the trace is not the caller's. */
  trace(traceId: string, tenant?: string): Promise<TraceDetailResponse> {
    return this.#api.trace(traceId, { tenant });
  }

  /** Conversations (spans grouped by `gen_ai.conversation.id`) active in a range, most recent first. */
  conversations(params: ConversationsParams): Promise<ConversationsResponse> {
    return this.#api.conversations(params);
  }

  agents(params: Omit<AgentsParams, "format">): Promise<AgentsResponse> {
    return this.#api.agents(params);
  }

  usage(params: Omit<UsageParams, "format">): Promise<UsageResponse> {
    return this.#api.usage(params);
  }

  /** The raw usage report (CSV or JSON) as the collector streams it, for downloads. */
  usageExport(params: UsageParams & { format: "json" | "csv" }): Promise<Response> {
    return this.#api.usageExport(params);
  }

  adminTenantList(): Promise<AdminTenantListResponse> {
    return this.#api.adminTenantList();
  }

  adminTenants(params: Omit<AdminTenantsParams, "format"> = {}): Promise<AdminTenantsResponse> {
    return this.#api.adminTenants(params);
  }

  /** Admin: one tenant, its keys, and its activity over the range (default: the last 24 h), with shares of all tenants as on the list. */
  adminTenant(id: string, range: AdminTenantParams = {}): Promise<AdminTenantDetailResponse> {
    return this.#api.adminTenant(id, range);
  }

  createTenant(body: CreateTenantRequest): Promise<CreateTenantResponse> {
    return this.#api.createTenant(body);
  }

  updateTenant(id: string, body: UpdateTenantRequest): Promise<UpdateTenantResponse> {
    return this.#api.updateTenant(id, body);
  }

  issueKey(id: string, body: IssueKeyRequest): Promise<IssueKeyResponse> {
    return this.#api.issueKey(id, body);
  }

  /** Admin: the runtimes that checked in for a tenant's settings within the last 24 h, and the version each applied. */
  tenantRuntimes(id: string): Promise<TenantRuntimesResponse> {
    return this.#api.tenantRuntimes(id);
  }

  /** Admin: a tenant's budget alerts, its webhook (never the secret) and the latest delivery attempts. */
  tenantAlerts(id: string): Promise<TenantAlertsResponse> {
    return this.#api.tenantAlerts(id);
  }

  /** A tenant's budgets and where it stands against them: a console key's own tenant, or the one an admin key names. */
  budget(params: BudgetParams = {}): Promise<BudgetResponse> {
    return this.#api.budget(params);
  }

  /** A console key's own budget alerts (no delivery log). */
  ownAlerts(): Promise<TenantAlertsResponse> {
    return this.#api.alerts();
  }

  /** Admin: sets a tenant's alert webhook; the answer carries its signing secret, this once. */
  setWebhook(id: string, body: SetWebhookRequest): Promise<SetWebhookResponse> {
    return this.#api.setWebhook(id, body);
  }

  /** Admin: removes a tenant's alert webhook. */
  async deleteWebhook(id: string): Promise<void> {
    await this.#api.removeWebhook(id);
  }

  /** Admin: sends a "test" event to the tenant's webhook and resolves with that attempt. */
  testWebhook(id: string): Promise<WebhookDelivery> {
    return this.#api.testWebhook(id);
  }

  /** Records on the collector that the session whose cookie has this SHA-256 digest was signed out (until `expiresAt`, epoch ms). */
  endSession(digest: string, expiresAt: number): Promise<void> {
    return this.#api.endSession({ digest, expiresAt });
  }

  /** Whether the session whose cookie has this digest was signed out, on any console instance. */
  async isSessionEnded(digest: string): Promise<boolean> {
    return (await this.#api.sessionEnded(digest)).ended;
  }
}

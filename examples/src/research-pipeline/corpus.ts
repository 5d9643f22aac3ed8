/** One document the example's search tool can find. */
export interface CorpusDocument {
  readonly title: string;
  readonly text: string;
}

/** A small built-in corpus so the example runs with no data set to download. */
export const DEFAULT_RESEARCH_CORPUS: readonly CorpusDocument[] = Object.freeze([
  { title: "The actor model", text: "Actors are isolated units of state that communicate only by messages and process one message at a time, which removes shared-memory races." },
  { title: "Multi-tenant agent platforms", text: "A multi-tenant platform serves many customers from one deployment; each tenant needs its own quotas, budgets, credentials and isolated state." },
  { title: "LLM token budgets", text: "Token budgets cap what a tenant may spend per day or month; the call is checked before it is made so an exhausted budget costs nothing." },
  { title: "Rate limits and retries", text: "Providers answer 429 when a key sends too fast; clients should back off exponentially with jitter and honour the Retry-After header." },
  { title: "OpenTelemetry for LLM agents", text: "GenAI semantic conventions describe chat, invoke_agent and execute_tool spans with token usage, models and finish reasons, but never prompt content." },
  { title: "Encrypting agent state", text: "Agent state is encrypted per tenant with AES-256-GCM and bound to its owner as associated data, so a blob moved to another tenant fails to decrypt." },
  { title: "Tool isolation", text: "Tools are built per tenant and agent from factories; one stateful tool object shared across tenants leaks data between customers." },
  { title: "Conversation memory", text: "Chat history grows without bound unless it is pruned by message count and tokens; summaries keep the gist of what was pruned." },
  { title: "Weighted fair scheduling", text: "Per-tenant queues served by weighted fair scheduling keep one noisy tenant from starving the others on a shared event loop." },
  { title: "Cost attribution", text: "Every LLM call is priced from its exact token usage and attributed to the tenant that made it, so billing reports match what was spent." },
]);

/** The corpus of a tenant: every tenant gets the default one unless the embedder supplies its own. */
export function researchCorpus(_tenant: string): readonly CorpusDocument[] {
  return DEFAULT_RESEARCH_CORPUS;
}

import type { ToolCallContext, ToolInstance, ToolRegistration, ToolScope } from "@troupe/runtime/llm";
import type { CorpusDocument } from "./corpus.js";

/** What the search tool answers: the best matching documents with a snippet each. */
export interface SearchResult {
  readonly results: ReadonlyArray<{ readonly title: string; readonly snippet: string }>;
  /** Searches this agent has made (the instance's own state, never shared with another tenant). */
  readonly searchesSoFar: number;
}

/** A search over one tenant's corpus. Stateful on purpose: it counts the agent's searches. */
class CorpusSearch implements ToolInstance {
  #searches = 0;
  readonly #documents: readonly CorpusDocument[];

  constructor(documents: readonly CorpusDocument[]) {
    this.#documents = documents;
  }

  invoke(args: unknown, _context: ToolCallContext): SearchResult {
    const query = String((args as { query?: unknown }).query ?? "");
    this.#searches++;
    const words = query.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length >= 3);
    const scored = this.#documents
      .map((doc) => {
        const haystack = `${doc.title} ${doc.text}`.toLowerCase();
        return { doc, score: words.reduce((n, w) => n + (haystack.includes(w) ? 1 : 0), 0) };
      })
      .filter((s) => s.score > 0)
      .sort((a, b) => b.score - a.score)
      .slice(0, 3);
    return { results: scored.map(({ doc }) => ({ title: doc.title, snippet: doc.text.slice(0, 160) })), searchesSoFar: this.#searches };
  }
}

/** The "search" tool registration: a new CorpusSearch per (tenant, agent) over that tenant's corpus. */
export function searchToolRegistration(corpus: (tenant: string) => readonly CorpusDocument[]): ToolRegistration {
  return {
    description: "Search the tenant's document corpus. Returns up to 3 matching documents with snippets.",
    parameters: { type: "object", properties: { query: { type: "string", description: "keywords to look for" } }, required: ["query"] },
    factory: (scope: ToolScope) => new CorpusSearch(corpus(scope.tenant)),
  };
}

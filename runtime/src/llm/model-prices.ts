/** The price of one model in USD per one million tokens. */
export interface ModelPrice {
  readonly inputPerMTokUsd: number;
  readonly outputPerMTokUsd: number;
}

/**
 * List prices (USD per 1M tokens) of common models, used when a tenant sets no override. Prices are
 * matched by exact model name first, then by the longest known prefix, so dated snapshots such as
 * `gpt-4o-2024-08-06` price as `gpt-4o`.
 */
export const DEFAULT_MODEL_PRICES: Readonly<Record<string, ModelPrice>> = Object.freeze({
  "gpt-4o": { inputPerMTokUsd: 2.5, outputPerMTokUsd: 10 },
  "gpt-4o-mini": { inputPerMTokUsd: 0.15, outputPerMTokUsd: 0.6 },
  "gpt-4.1": { inputPerMTokUsd: 2, outputPerMTokUsd: 8 },
  "gpt-4.1-mini": { inputPerMTokUsd: 0.4, outputPerMTokUsd: 1.6 },
  "gpt-4.1-nano": { inputPerMTokUsd: 0.1, outputPerMTokUsd: 0.4 },
  "gpt-4-turbo": { inputPerMTokUsd: 10, outputPerMTokUsd: 30 },
  "gpt-3.5-turbo": { inputPerMTokUsd: 0.5, outputPerMTokUsd: 1.5 },
  "gpt-5": { inputPerMTokUsd: 1.25, outputPerMTokUsd: 10 },
  "gpt-5-mini": { inputPerMTokUsd: 0.25, outputPerMTokUsd: 2 },
  "gpt-5-nano": { inputPerMTokUsd: 0.05, outputPerMTokUsd: 0.4 },
  o1: { inputPerMTokUsd: 15, outputPerMTokUsd: 60 },
  "o1-mini": { inputPerMTokUsd: 1.1, outputPerMTokUsd: 4.4 },
  o3: { inputPerMTokUsd: 2, outputPerMTokUsd: 8 },
  "o3-mini": { inputPerMTokUsd: 1.1, outputPerMTokUsd: 4.4 },
  "o4-mini": { inputPerMTokUsd: 1.1, outputPerMTokUsd: 4.4 },
});

/**
 * The price used for a model nobody priced: deliberately that of a large model, so an unknown model
 * is over- rather than under-charged against budgets.
 */
export const FALLBACK_MODEL_PRICE: ModelPrice = Object.freeze({ inputPerMTokUsd: 10, outputPerMTokUsd: 30 });

/**
 * Resolves model prices: tenant overrides first, then DEFAULT_MODEL_PRICES, then FALLBACK_MODEL_PRICE.
 * Lookups are cached per model name; an instance never changes after construction.
 */
export class ModelPriceTable {
  readonly #prices: ReadonlyMap<string, ModelPrice>;
  readonly #fallback: ModelPrice;
  readonly #cache = new Map<string, ModelPrice>();
  readonly #prefixes: readonly string[];

  constructor(overrides: Readonly<Record<string, ModelPrice>> = {}, fallback: ModelPrice = FALLBACK_MODEL_PRICE) {
    this.#prices = new Map(Object.entries({ ...DEFAULT_MODEL_PRICES, ...overrides }));
    this.#fallback = fallback;
    this.#prefixes = [...this.#prices.keys()].sort((a, b) => b.length - a.length);
  }

  /** The price of `model` (exact name, else longest known prefix, else the fallback). */
  priceOf(model: string): ModelPrice {
    const cached = this.#cache.get(model);
    if (cached) return cached;
    let price = this.#prices.get(model);
    if (!price) {
      const prefix = this.#prefixes.find((p) => model.startsWith(`${p}-`));
      price = prefix ? this.#prices.get(prefix) : undefined;
    }
    price ??= this.#fallback;
    if (this.#cache.size < 1_000) this.#cache.set(model, price);
    return price;
  }

  /** Cost in USD of `inputTokens` + `outputTokens` on `model`. */
  costUsd(model: string, inputTokens: number, outputTokens: number): number {
    const price = this.priceOf(model);
    return (inputTokens * price.inputPerMTokUsd + outputTokens * price.outputPerMTokUsd) / 1_000_000;
  }
}

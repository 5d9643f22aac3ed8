import { z } from "zod";
import { InvalidArgumentError } from "../errors.js";

const nonNegative = z.number().finite().nonnegative();
const positive = z.number().finite().positive();

const priceSchema = z.object({ inputPerMTokUsd: nonNegative, outputPerMTokUsd: nonNegative }).strict();

/** The validated shape of a tenant's (or tier's) LLM configuration. */
export const TenantLlmConfigSchema = z
  .object({
    /** API key sent to the provider. */
    apiKey: z.string().min(1, "apiKey must not be empty"),
    /** Base URL of any OpenAI-compatible server (OpenAI, Azure OpenAI, Ollama, vLLM, LiteLLM...). */
    baseURL: z.url().optional(),
    organization: z.string().min(1).optional(),
    /** Model used when a call names none. */
    defaultModel: z.string().min(1, "defaultModel must not be empty"),
    /** The provider name reported as gen_ai.provider.name (e.g. "openai", "azure.ai.openai", "ollama"). */
    provider: z.string().min(1).default("openai"),
    /** True when the endpoint is a simulated model (a local stand-in): chat spans say so (troupe.llm.simulated). */
    simulated: z.boolean().default(false),
    /** Per-model price overrides, USD per 1M tokens. */
    prices: z.record(z.string().min(1), priceSchema).optional(),
    budget: z
      .object({ tokensPerDay: nonNegative.optional(), tokensPerMonth: nonNegative.optional(), costUsdPerDay: nonNegative.optional(), costUsdPerMonth: nonNegative.optional() })
      .strict()
      .optional(),
    rateLimit: z
      .object({
        requestsPerMinute: positive.optional(),
        tokensPerMinute: positive.optional(),
        /** How long a call may wait for rate-limit capacity before failing with RateLimitedError. */
        maxWaitMs: nonNegative.default(0),
      })
      .strict()
      .optional(),
    retry: z
      .object({ maxRetries: z.number().int().min(0).max(10), baseDelayMs: nonNegative, maxDelayMs: nonNegative, maxRetryAfterMs: nonNegative })
      .partial()
      .strict()
      .optional(),
    /** Per-attempt HTTP timeout. */
    timeoutMs: positive.default(60_000),
    /** Completion tokens reserved against the budget when a call sets no max_tokens. */
    defaultCompletionReservation: z.number().int().positive().default(1_024),
  })
  .strict();

/** A tenant's LLM configuration as the embedder writes it (defaults optional). */
export type TenantLlmConfigInput = z.input<typeof TenantLlmConfigSchema>;
/** A tenant's LLM configuration after validation and defaults. */
export type TenantLlmConfig = z.output<typeof TenantLlmConfigSchema>;

/** Validates a configuration; throws InvalidArgumentError naming every problem and the tenant. */
export function parseTenantLlmConfig(tenant: string, input: unknown): TenantLlmConfig {
  const result = TenantLlmConfigSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new InvalidArgumentError(`LLM configuration of tenant "${tenant}" is invalid: ${problems}`);
  }
  return result.data;
}

import { z } from "zod";
import { AgentId, InvalidArgumentError } from "@troupe/runtime";
import type { Agent, AgentContext, MessageContext, Runtime, TenantHandle } from "@troupe/runtime";
import { runToolLoop } from "@troupe/runtime/llm";
import type { LlmClients, ToolRegistry } from "@troupe/runtime/llm";
import { ConversationMemory } from "@troupe/runtime/state";
import { researchCorpus } from "./corpus.js";
import type { CorpusDocument } from "./corpus.js";
import { PROMPTS } from "./prompts.js";
import { searchToolRegistration } from "./search-tool.js";

/** The agent types the pipeline registers. */
export const RESEARCH_AGENT_TYPES = { planner: "planner", researcher: "researcher", writer: "writer" } as const;

/** What the pipeline needs from the embedding application. */
export interface ResearchPipelineOptions {
  /** Each tenant's LLM client comes from here (tenants need an LLM configuration). */
  readonly llm: LlmClients;
  /** The "search" tool is registered here unless a tool of that name already is. */
  readonly tools: ToolRegistry;
  /** A tenant's documents. Default: the built-in corpus for every tenant. */
  readonly corpus?: (tenant: string) => readonly CorpusDocument[];
  /** Model round-trips a researcher may make per question. Default 4. */
  readonly maxToolIterations?: number;
  /** Completion tokens per LLM call. Default 400. */
  readonly maxTokens?: number;
}

/** One researched question. */
export interface ResearchFinding {
  readonly question: string;
  readonly answer: string;
  readonly toolCalls: number;
}

/** What `runResearch` returns. */
export interface ResearchReport {
  readonly topic: string;
  readonly questions: readonly string[];
  readonly findings: readonly ResearchFinding[];
  readonly report: string;
}

const topicMessage = z.object({ topic: z.string().trim().min(1, "topic must not be empty").max(500, "topic must be at most 500 characters") });
const questionMessage = z.object({ question: z.string().min(1).max(1_000) });
const writeMessage = z.object({
  topic: z.string().min(1),
  findings: z.array(z.object({ question: z.string(), answer: z.string(), toolCalls: z.number() })).max(10),
});

function parse<T>(schema: z.ZodType<T>, message: unknown, agent: string): T {
  const result = schema.safeParse(message);
  if (!result.success) {
    throw new InvalidArgumentError(`${agent} got an invalid message: ${result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
  }
  return result.data;
}

/** Plans questions, fans them out to researchers, hands the findings to the writer. Stateless. */
function plannerAgent(options: ResearchPipelineOptions): (ctx: AgentContext) => Agent {
  return () => ({
    async onMessage(message: unknown, ctx: MessageContext): Promise<ResearchReport> {
      const { topic } = parse(topicMessage, message, "planner");
      const llm = options.llm.forTenant(ctx.tenant);
      const plan = await llm.chat(
        { messages: [{ role: "system", content: PROMPTS.planner }, { role: "user", content: topic }], max_tokens: options.maxTokens ?? 400 },
        { agent: ctx.agentId, signal: ctx.signal },
      );
      const questions = (plan.choices[0]?.message.content ?? "")
        .split("\n")
        .map((line) => line.replace(/^\s*(?:[-*]|\d+[.)])\s*/, "").trim())
        .filter((line) => line.length > 0)
        .slice(0, 3);
      if (questions.length === 0) questions.push(topic);
      const findings = (await Promise.all(
        questions.map((question, i) => ctx.send(new AgentId(RESEARCH_AGENT_TYPES.researcher, `${ctx.agentId.key}.${i}`), { question })),
      )) as ResearchFinding[];
      const { report } = (await ctx.send(new AgentId(RESEARCH_AGENT_TYPES.writer, ctx.agentId.key), { topic, findings })) as { report: string };
      return { topic, questions, findings, report };
    },
  });
}

/**
 * Answers questions with the search tool through the tool-call loop. Stateful: it remembers its
 * earlier questions and answers (bounded ConversationMemory, summarized by the tenant's LLM) and
 * hands that memory to the runtime's state store on passivation.
 */
function researcherAgent(options: ResearchPipelineOptions): (ctx: AgentContext) => Agent {
  return (agentCtx) => {
    const llm = () => options.llm.forTenant(agentCtx.tenant);
    const memoryOptions = {
      maxMessages: 12,
      maxTokens: 2_000,
      summarizer: async (pruned: readonly unknown[], previous: string | undefined) => {
        const completion = await llm().chat(
          {
            messages: [
              { role: "system", content: PROMPTS.summarizer },
              { role: "user", content: `${previous ? `Earlier summary: ${previous}\n` : ""}${JSON.stringify(pruned)}` },
            ],
            max_tokens: 200,
          },
          { agent: agentCtx.agentId, conversationId: memory.conversationId },
        );
        return completion.choices[0]?.message.content ?? "";
      },
    };
    let memory = new ConversationMemory(memoryOptions);
    const tools = options.tools.forAgent({ tenant: agentCtx.tenant, agentId: agentCtx.agentId }, { only: ["search"] });
    return {
      async onMessage(message: unknown, ctx: MessageContext): Promise<ResearchFinding> {
        const { question } = parse(questionMessage, message, "researcher");
        const result = await runToolLoop({
          llm: llm(),
          tools,
          messages: [{ role: "system", content: PROMPTS.researcher }, ...memory.messages(), { role: "user", content: question }],
          params: { max_tokens: options.maxTokens ?? 400 },
          maxIterations: options.maxToolIterations ?? 4,
          callOptions: { agent: ctx.agentId, signal: ctx.signal, conversationId: memory.conversationId },
        });
        const answer = result.message.content ?? "";
        await memory.add({ role: "user", content: question }, { role: "assistant", content: answer });
        return { question, answer, toolCalls: result.toolCalls };
      },
      saveState: () => memory.toJSON(),
      loadState: (state: unknown) => {
        memory = ConversationMemory.fromJSON(state, memoryOptions);
      },
    };
  };
}

/** Writes the report from the findings. Stateless. */
function writerAgent(options: ResearchPipelineOptions): (ctx: AgentContext) => Agent {
  return () => ({
    async onMessage(message: unknown, ctx: MessageContext): Promise<{ report: string }> {
      const { topic, findings } = parse(writeMessage, message, "writer");
      const brief = [`Topic: ${topic}`, ...findings.map((f) => `- ${f.question} ${f.answer}`)].join("\n");
      const completion = await options.llm.forTenant(ctx.tenant).chat(
        { messages: [{ role: "system", content: PROMPTS.writer }, { role: "user", content: brief }], max_tokens: options.maxTokens ?? 400 },
        { agent: ctx.agentId, signal: ctx.signal },
      );
      return { report: completion.choices[0]?.message.content ?? "" };
    },
  });
}

/**
 * Registers the research pipeline on a runtime: `planner` → `researcher` (×3, each calling the
 * tenant's own "search" tool instance) → `writer`, every agent calling its tenant's LLM client.
 * The agents hold this process's LLM clients and tools, so they are pinned inline: they run on the
 * main event loop whatever their tenant's tier. Register before `runtime.start()`.
 */
export function registerResearchPipeline(runtime: Runtime, options: ResearchPipelineOptions): void {
  if (!options.tools.has("search")) options.tools.register("search", searchToolRegistration(options.corpus ?? researchCorpus));
  const inline = { isolation: "inline" } as const;
  runtime.register(RESEARCH_AGENT_TYPES.planner, plannerAgent(options), inline);
  runtime.register(RESEARCH_AGENT_TYPES.researcher, researcherAgent(options), inline);
  runtime.register(RESEARCH_AGENT_TYPES.writer, writerAgent(options), inline);
}

/**
 * Researches `topic` for the tenant behind `tenant` and returns the report. `key` names the
 * planner instance (default: a fresh one per call); `timeoutMs` bounds the whole pipeline.
 */
export async function runResearch(tenant: TenantHandle, topic: string, options: { key?: string; timeoutMs?: number } = {}): Promise<ResearchReport> {
  parse(topicMessage, { topic }, "runResearch");
  const key = options.key ?? `research-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  return (await tenant.send(new AgentId(RESEARCH_AGENT_TYPES.planner, key), { topic }, options.timeoutMs ? { timeoutMs: options.timeoutMs } : undefined)) as ResearchReport;
}

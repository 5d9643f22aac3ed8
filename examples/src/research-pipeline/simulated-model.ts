import type { MockBehaviour, MockChatRequest, MockReply } from "@troupe/runtime/testing";
import { PROMPTS } from "./prompts.js";

function text(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (p && typeof p === "object" && "text" in p ? String(p.text) : "")).join("");
  return "";
}

function systemPrompt(request: MockChatRequest): string {
  return text(request.messages.find((m) => m.role === "system")?.content);
}

function reply(content: string, latencyMs: number): MockReply {
  return { type: "completion", content, ...(latencyMs > 0 ? { delayMs: latencyMs } : {}) };
}

/**
 * A model behaviour for the mock OpenAI server that plays the research pipeline's roles
 * deterministically: plans three questions, searches with the tool and answers from its results,
 * writes a report, summarizes. It lets tests, the demo and benchmarks run the whole pipeline with
 * real HTTP and real token accounting but no paid API. `latencyMs` delays every answer.
 */
export function simulatedResearchModel(options: { latencyMs?: number } = {}): MockBehaviour {
  const latencyMs = options.latencyMs ?? 0;
  return (request) => {
    const system = systemPrompt(request);
    const last = request.messages.at(-1);
    if (system.startsWith(PROMPTS.planner.slice(0, 30))) {
      const topic = text(last?.content).trim() || "the topic";
      return reply([`What is ${topic}?`, `How is ${topic} used in practice?`, `What are the risks of ${topic}?`].join("\n"), latencyMs);
    }
    if (system.startsWith(PROMPTS.researcher.slice(0, 30))) {
      if (last?.role === "tool") {
        let titles: string[] = [];
        try {
          titles = (JSON.parse(text(last.content)) as { results: Array<{ title: string }> }).results.map((r) => r.title);
        } catch {
          titles = [];
        }
        const cited = titles.length > 0 ? titles.map((t) => `"${t}"`).join(", ") : "no documents";
        return reply(`Based on ${cited}, the corpus answers this question with ${titles.length} relevant source(s).`, latencyMs);
      }
      const question = text(last?.content);
      return {
        type: "completion",
        toolCalls: [{ name: "search", arguments: JSON.stringify({ query: question }) }],
        ...(latencyMs > 0 ? { delayMs: latencyMs } : {}),
      };
    }
    if (system.startsWith(PROMPTS.writer.slice(0, 30))) {
      const body = text(last?.content);
      const findings = body.split("\n").filter((l) => l.startsWith("- ")).length;
      return reply(`Report. ${body.split("\n")[0] ?? ""} This report draws on ${findings} finding(s) from the research team.`, latencyMs);
    }
    if (system.startsWith(PROMPTS.summarizer.slice(0, 30))) {
      return reply(`Summary of ${request.messages.length - 1} earlier message(s).`, latencyMs);
    }
    return reply(`echo: ${text(last?.content).slice(0, 200)}`, latencyMs);
  };
}

import { describe, expect, it } from "vitest";
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { ConversationMemory } from "./conversation-memory.js";

const user = (content: string): ChatCompletionMessageParam => ({ role: "user", content });
const assistant = (content: string): ChatCompletionMessageParam => ({ role: "assistant", content });

describe("ConversationMemory", () => {
  it("bounds history by message count, dropping the oldest when there is no summarizer", async () => {
    const memory = new ConversationMemory({ maxMessages: 3, systemPrompt: "be brief" });
    for (let i = 0; i < 10; i++) await memory.add(user(`m${i}`));
    expect(memory.messages()).toEqual([{ role: "system", content: "be brief" }, user("m7"), user("m8"), user("m9")]);
    expect(memory.prunedCount).toBe(7);
  });

  it("bounds history by tokens with a pluggable estimator", async () => {
    const memory = new ConversationMemory({ maxMessages: 100, maxTokens: 10, estimator: () => 3 });
    for (let i = 0; i < 10; i++) await memory.add(user(`m${i}`));
    expect(memory.length).toBe(3);
    expect(memory.tokens).toBeLessThanOrEqual(10);
  });

  it("summarizes what is pruned into one message, passing the previous summary along", async () => {
    const calls: Array<{ pruned: string[]; previous: string | undefined }> = [];
    const memory = new ConversationMemory({
      maxMessages: 4,
      maxTokens: 10_000,
      summarizer: async (pruned, previous) => {
        calls.push({ pruned: pruned.map((m) => String(m.content)), previous });
        return `${previous ? `${previous}+` : ""}${pruned.map((m) => m.content).join(",")}`;
      },
    });
    for (let i = 0; i < 6; i++) await memory.add(user(`m${i}`));
    expect(calls).toEqual([
      { pruned: ["m0"], previous: undefined },
      { pruned: ["m1"], previous: "m0" },
    ]);
    const messages = memory.messages();
    expect(messages[0]).toEqual({ role: "system", content: "Summary of the earlier conversation:\nm0+m1" });
    expect(messages.slice(1)).toEqual([user("m2"), user("m3"), user("m4"), user("m5")]);
  });

  it("keeps room for the summary inside maxTokens and caps the summary", async () => {
    const memory = new ConversationMemory({ maxMessages: 1_000, maxTokens: 200, maxSummaryTokens: 20, summarizer: async () => "s".repeat(10_000) });
    for (let i = 0; i < 50; i++) await memory.add(user("x".repeat(40)));
    expect(memory.summary?.length).toBe(80);
    expect(memory.tokens).toBeLessThanOrEqual(200);
  });

  it("never leaves a tool result without its assistant tool call", async () => {
    const memory = new ConversationMemory({ maxMessages: 2 });
    await memory.add(
      user("q"),
      { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "s", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "c1", content: "r1" },
      assistant("a"),
    );
    // Pruning "q" leaves 3 messages; the next group is the tool call with its result, pruned together.
    expect(memory.messages()).toEqual([assistant("a")]);
    await memory.add(user("next"));
    expect(memory.messages()[0]?.role).not.toBe("tool");
  });

  it("keeps the newest message even when it alone exceeds maxTokens", async () => {
    const memory = new ConversationMemory({ maxTokens: 5 });
    await memory.add(user("x".repeat(1_000)));
    expect(memory.length).toBe(1);
  });

  it("puts messages back when the summarizer fails", async () => {
    let fail = true;
    const memory = new ConversationMemory({ maxMessages: 2, summarizer: async (p) => {
      if (fail) throw new Error("llm down");
      return p.map((m) => m.content).join(",");
    } });
    await memory.add(user("a"), user("b"));
    await expect(memory.add(user("c"))).rejects.toThrow("llm down");
    expect(memory.length).toBe(3);
    fail = false;
    await memory.add(user("d"));
    expect(memory.summary).toBe("a,b");
    expect(memory.messages().slice(1)).toEqual([user("c"), user("d")]);
  });

  it("serializes into agent state and back", async () => {
    const memory = new ConversationMemory({ maxMessages: 2, summarizer: async (p) => `${p.length} pruned` });
    await memory.add(user("a"), assistant("b"), user("c"));
    const restored = ConversationMemory.fromJSON(JSON.parse(JSON.stringify(memory)), { maxMessages: 2 });
    expect(restored.messages()).toEqual(memory.messages());
    expect(restored.prunedCount).toBe(1);
    expect(() => ConversationMemory.fromJSON({ nope: true })).toThrow(/not a ConversationMemory snapshot/);
  });

  it("keeps one conversation id for its life and across agent state; snapshots from before ids get one", async () => {
    const memory = new ConversationMemory();
    const other = new ConversationMemory();
    expect(memory.conversationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(other.conversationId).not.toBe(memory.conversationId);
    await memory.add(user("a"));
    expect(ConversationMemory.fromJSON(JSON.parse(JSON.stringify(memory))).conversationId).toBe(memory.conversationId);
    expect(new ConversationMemory({ conversationId: "support-42" }).conversationId).toBe("support-42");
    expect(ConversationMemory.fromJSON({ version: 1, messages: [], summary: undefined, prunedCount: 0 }, { conversationId: "old" }).conversationId).toBe("old");
    expect(() => new ConversationMemory({ conversationId: "" })).toThrow(/conversationId/);
    expect(() => ConversationMemory.fromJSON({ version: 1, messages: [], prunedCount: 0, conversationId: "x".repeat(129) })).toThrow(/conversationId/);
  });
});

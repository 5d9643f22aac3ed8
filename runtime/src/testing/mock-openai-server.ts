import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A chat completion request as the mock server received it. */
export interface MockChatRequest {
  readonly model: string;
  readonly messages: ReadonlyArray<{ role: string; content?: unknown; tool_call_id?: string; tool_calls?: unknown[] }>;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly tools: ReadonlyArray<{ type: string; function?: { name: string } }>;
  readonly maxTokens: number | undefined;
  readonly authorization: string | undefined;
  /** The whole parsed JSON body. */
  readonly body: Record<string, unknown>;
}

/** A tool call the mock model makes. */
export interface MockToolCall {
  readonly id?: string;
  readonly name: string;
  /** JSON text of the arguments. */
  readonly arguments: string;
}

/** What the mock answers to one request. */
export type MockReply =
  | {
      readonly type: "completion";
      readonly content?: string;
      readonly toolCalls?: readonly MockToolCall[];
      readonly finishReason?: "stop" | "length" | "tool_calls" | "content_filter";
      /**
       * Reported usage; default: estimated from the request and reply text (4 characters a token).
       * `cachedTokens` and `reasoningTokens` are sent as `prompt_tokens_details.cached_tokens` and
       * `completion_tokens_details.reasoning_tokens` when given.
       */
      readonly usage?: { readonly promptTokens: number; readonly completionTokens: number; readonly cachedTokens?: number; readonly reasoningTokens?: number };
      /** Leave usage out of the response (some servers do). */
      readonly omitUsage?: boolean;
      /** The response's model; default: the requested model. */
      readonly model?: string;
      /** Wait before answering (a slow model). */
      readonly delayMs?: number;
      /** Wait between streamed chunks. */
      readonly chunkDelayMs?: number;
      /** Streaming only: cut the connection after the first content chunk. */
      readonly failMidStream?: boolean;
    }
  | {
      readonly type: "error";
      readonly status: number;
      readonly message?: string;
      /** Sent as `retry-after` (seconds). */
      readonly retryAfterSeconds?: number;
      /** Sent as `retry-after-ms`. */
      readonly retryAfterMs?: number;
      readonly delayMs?: number;
    };

/** Decides the reply to each request; `callIndex` counts chat requests from 0. */
export type MockBehaviour = (request: MockChatRequest, info: { readonly callIndex: number }) => MockReply | Promise<MockReply>;

/** A running mock server. */
export interface MockOpenAiServer {
  /** The base URL to give an openai client, ending in `/v1`. */
  readonly baseURL: string;
  readonly port: number;
  /** Chat completion requests received so far. */
  readonly requestCount: number;
  /** The most recent requests (at most `maxLoggedRequests`, oldest dropped first). */
  readonly requests: readonly MockChatRequest[];
  setBehaviour(behaviour: MockBehaviour): void;
  /** Forgets logged requests and sets `requestCount` back to 0. */
  reset(): void;
  close(): Promise<void>;
}

/** Options of startMockOpenAiServer. */
export interface MockOpenAiServerOptions {
  /** Default 0: any free port. */
  readonly port?: number;
  readonly host?: string;
  /** Default: echoBehaviour. */
  readonly behaviour?: MockBehaviour;
  /** Default 1,000. */
  readonly maxLoggedRequests?: number;
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (p && typeof p === "object" && "text" in p ? String(p.text) : "")).join("");
  return "";
}

/** Estimated prompt tokens of a request, as the mock reports them: 4 per message + characters / 4. */
export function mockPromptTokens(request: MockChatRequest): number {
  let tokens = 0;
  for (const m of request.messages) tokens += 4 + Math.ceil(textOf(m.content).length / 4);
  return tokens;
}

/** The default behaviour: answers with a deterministic echo of the last user message, never calls tools. */
export const echoBehaviour: MockBehaviour = (request) => {
  const lastUser = [...request.messages].reverse().find((m) => m.role === "user");
  return { type: "completion", content: `echo: ${textOf(lastUser?.content).slice(0, 200)}` };
};

/**
 * Answers the n-th request it sees with `replies[n]`, repeating the last reply once the list is used
 * up. Counts its own requests, so it starts from the first reply whenever it is installed.
 */
export function sequenceBehaviour(replies: readonly MockReply[]): MockBehaviour {
  if (replies.length === 0) throw new RangeError("sequenceBehaviour needs at least one reply");
  let next = 0;
  return () => replies[Math.min(next++, replies.length - 1)]!;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error("request body too large"));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function toRequest(body: Record<string, unknown>, authorization: string | undefined): MockChatRequest {
  const streamOptions = body.stream_options as { include_usage?: boolean } | undefined;
  const maxTokens = (body.max_completion_tokens ?? body.max_tokens) as number | undefined;
  return {
    model: String(body.model ?? ""),
    messages: Array.isArray(body.messages) ? (body.messages as MockChatRequest["messages"]) : [],
    stream: body.stream === true,
    includeUsage: streamOptions?.include_usage === true,
    tools: Array.isArray(body.tools) ? (body.tools as MockChatRequest["tools"]) : [],
    maxTokens: typeof maxTokens === "number" ? maxTokens : undefined,
    authorization,
    body,
  };
}

/**
 * Starts a local server speaking the OpenAI chat completions protocol (`POST /v1/chat/completions`,
 * JSON and SSE streaming with a final usage chunk, tool calls, error statuses with Retry-After, slow
 * replies), so the real `openai` client is exercised end to end. Used by tests, benchmarks and the
 * demo's simulated model. Listens on 127.0.0.1 unless `host` says otherwise.
 */
export async function startMockOpenAiServer(options: MockOpenAiServerOptions = {}): Promise<MockOpenAiServer> {
  let behaviour = options.behaviour ?? echoBehaviour;
  const maxLogged = options.maxLoggedRequests ?? 1_000;
  const log: MockChatRequest[] = [];
  let callIndex = 0;
  let counter = 0;

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: `mock server failure: ${String(error)}`, type: "server_error" } });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method === "GET" && url.pathname === "/v1/models") {
      sendJson(res, 200, { object: "list", data: [{ id: "mock-model", object: "model", created: 0, owned_by: "troupe" }] });
      return;
    }
    if (req.method !== "POST" || url.pathname !== "/v1/chat/completions") {
      sendJson(res, 404, { error: { message: `no route ${req.method} ${url.pathname}`, type: "invalid_request_error" } });
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(await readBody(req)) as Record<string, unknown>;
    } catch (error) {
      sendJson(res, 400, { error: { message: `invalid JSON body: ${String(error)}`, type: "invalid_request_error" } });
      return;
    }
    const request = toRequest(body, req.headers.authorization);
    log.push(request);
    if (log.length > maxLogged) log.shift();
    const reply = await behaviour(request, { callIndex: callIndex++ });
    if (reply.delayMs) await sleep(reply.delayMs);
    if (res.destroyed) return;
    if (reply.type === "error") {
      const headers: Record<string, string> = {};
      if (reply.retryAfterSeconds !== undefined) headers["retry-after"] = String(reply.retryAfterSeconds);
      if (reply.retryAfterMs !== undefined) headers["retry-after-ms"] = String(reply.retryAfterMs);
      const type = reply.status === 429 ? "rate_limit_error" : reply.status >= 500 ? "server_error" : "invalid_request_error";
      sendJson(res, reply.status, { error: { message: reply.message ?? `mock error ${reply.status}`, type, code: null, param: null } }, headers);
      return;
    }
    const id = `chatcmpl-mock-${++counter}`;
    const model = reply.model ?? request.model;
    const content = reply.content ?? (reply.toolCalls?.length ? null : "");
    const toolCalls = (reply.toolCalls ?? []).map((call, i) => ({
      id: call.id ?? `call_${counter}_${i}`,
      type: "function" as const,
      function: { name: call.name, arguments: call.arguments },
    }));
    const finishReason = reply.finishReason ?? (toolCalls.length > 0 ? "tool_calls" : "stop");
    const completionChars = (content ?? "").length + toolCalls.reduce((n, c) => n + c.function.name.length + c.function.arguments.length, 0);
    const promptTokens = reply.usage?.promptTokens ?? mockPromptTokens(request);
    const completionTokens = reply.usage?.completionTokens ?? Math.max(1, Math.ceil(completionChars / 4));
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      ...(reply.usage?.cachedTokens === undefined ? {} : { prompt_tokens_details: { cached_tokens: reply.usage.cachedTokens } }),
      ...(reply.usage?.reasoningTokens === undefined ? {} : { completion_tokens_details: { reasoning_tokens: reply.usage.reasoningTokens } }),
    };
    const created = Math.floor(Date.now() / 1000);

    if (!request.stream) {
      const message: Record<string, unknown> = { role: "assistant", content, refusal: null };
      if (toolCalls.length > 0) message.tool_calls = toolCalls;
      sendJson(res, 200, {
        id,
        object: "chat.completion",
        created,
        model,
        choices: [{ index: 0, message, finish_reason: finishReason, logprobs: null }],
        ...(reply.omitUsage ? {} : { usage }),
      });
      return;
    }

    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    const send = async (chunk: unknown) => {
      if (res.destroyed) return;
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      if (reply.chunkDelayMs) await sleep(reply.chunkDelayMs);
    };
    const base = { id, object: "chat.completion.chunk", created, model };
    await send({ ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] });
    const pieces = (content ?? "").match(/[\s\S]{1,16}/g) ?? [];
    for (const piece of pieces) {
      await send({ ...base, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] });
      if (reply.failMidStream) {
        await new Promise<void>((resolve) => res.write("", () => resolve()));
        await sleep(20);
        res.socket?.destroy();
        return;
      }
    }
    for (const [index, call] of toolCalls.entries()) {
      await send({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index, id: call.id, type: "function", function: { name: call.function.name, arguments: "" } }] }, finish_reason: null }] });
      await send({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index, function: { arguments: call.function.arguments } }] }, finish_reason: null }] });
    }
    await send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: finishReason }] });
    if (request.includeUsage && !reply.omitUsage) await send({ ...base, choices: [], usage });
    if (!res.destroyed) res.end("data: [DONE]\n\n");
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? "127.0.0.1";
  return {
    baseURL: `http://${host.includes(":") ? `[${host}]` : host}:${port}/v1`,
    port,
    get requestCount() {
      return callIndex;
    },
    get requests() {
      return log;
    },
    setBehaviour(next) {
      behaviour = next;
    },
    reset() {
      log.length = 0;
      callIndex = 0;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/**
 * A test agent for WorkerThreadTurnHost tests: each message names an operation (burn CPU, exit the
 * process, throw, loop forever, send...). Never used outside tests.
 */
import type { HostedAgent, HostedAgentFactory } from "../hosted-agent.js";

type Op =
  | { op: "echo"; value: unknown }
  | { op: "burn"; ms: number }
  | { op: "exit" }
  | { op: "throw"; name: string; message: string }
  | { op: "throw-async" }
  | { op: "reject-later" }
  | { op: "loop" }
  | { op: "wait-abort" }
  | { op: "send"; to: { type: string; key: string }; message: unknown }
  | { op: "publish"; topic: { type: string; source: string }; message: unknown }
  | { op: "send-late" }
  | { op: "count" }
  | { op: "oom" }
  | { op: "unclonable" };

export const createOpsAgent: HostedAgentFactory = ({ tenant, agentId }) => {
  let count = 0;
  let lateSend: (() => Promise<unknown>) | undefined;
  const agent: HostedAgent = {
    async onMessage(message, ctx) {
      const m = message as Op;
      switch (m.op) {
        case "echo":
          return { value: m.value, tenant, agentId, ctxTenant: ctx.tenant, hopCount: ctx.hopCount, deliveryId: ctx.deliveryId, traceparent: ctx.traceparent };
        case "burn": {
          const end = Date.now() + m.ms;
          let x = 0;
          while (Date.now() < end) x++;
          return x > 0;
        }
        case "exit":
          process.exit(7);
          return undefined;
        case "throw": {
          const error = new Error(m.message);
          error.name = m.name;
          throw error;
        }
        case "throw-async":
          setTimeout(() => {
            throw new Error("thrown from a timer");
          }, 5);
          return new Promise(() => {});
        case "reject-later":
          void Promise.reject(new Error("unhandled rejection"));
          return new Promise(() => {});
        case "loop":
          for (;;) {
            // ignores its signal on purpose
          }
        case "wait-abort":
          return new Promise((_, reject) => {
            if (ctx.signal.aborted) reject(ctx.signal.reason as Error);
            ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason as Error));
          });
        case "send":
          return ctx.send(m.to, m.message, { timeoutMs: 1000 });
        case "publish":
          await ctx.publish(m.topic, m.message);
          return "published";
        case "send-late":
          lateSend = () => ctx.send({ type: "ops", key: "other" }, "late");
          return "ok";
        case "count":
          if (lateSend) {
            const error = await lateSend().then(() => undefined, (e: Error) => `${e.name}: ${e.message}`);
            lateSend = undefined;
            return error;
          }
          return ++count;
        case "oom": {
          const hoard: string[][] = [];
          for (;;) hoard.push(new Array(100_000).fill("x".repeat(10)));
        }
        case "unclonable":
          return () => 1;
      }
    },
    saveState: () => ({ count }),
    loadState: (state) => {
      count = (state as { count: number }).count;
    },
  };
  return agent;
};

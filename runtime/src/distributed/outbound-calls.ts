import { context as otelContext, type Context } from "@opentelemetry/api";
import { headers as natsHeaders, type Msg, type MsgHdrs } from "@nats-io/transport-node";
import type { SendOptions } from "../agents/agent.js";
import { AgentId, type TopicId } from "../agents/ids.js";
import { checkSendOptions, toAgentId, toAgentIdOrNull, toTopicId } from "../agents/message-arguments.js";
import type { Subscription } from "../agents/subscription.js";
import { LoopDetectedError, QueueFullError, RateLimitedError, TroupeError } from "../errors.js";
import type { TenantId } from "@troupe/contract";
import { injectContext, type Carrier } from "../tracing/propagation.js";
import type { ClusterQuotas } from "./cluster-quotas.js";
import type { ClusterSession } from "./cluster-session.js";
import type { ParsedDistributedOptions } from "./distributed-runtime-options.js";
import type { DistributedCounters } from "./distributed-stats.js";
import { HEADER, brokerAckSchema, decodeJson, decodeReplyBody, encodeJson, encodeRoute, fromWireError, mentionsError, type MessageBody, type Route } from "./message-wire.js";
import type { PendingCalls } from "./pending-calls.js";

/** What the outbound side needs of its DistributedRuntime, fixed at construction. */
export interface OutboundCallsDeps {
  session: ClusterSession;
  options: ParsedDistributedOptions;
  counters: DistributedCounters;
  pending: PendingCalls;
  quotas: ClusterQuotas;
  /** This process's id in reply subjects. */
  callerId: string;
  /** Runtime-wide and per-tenant subscriptions (read live: the runtime adds and removes them). */
  globalSubs: readonly Subscription[];
  tenantSubs: ReadonlyMap<TenantId, readonly Subscription[]>;
}

/**
 * Sends and publishes of one DistributedRuntime onto the namespace's stream, and the answers to its
 * calls. Guarantees: arguments, the loop guard, pending-call room and the tenant's cluster-wide rate
 * are checked before anything is published; a message carries its tenant, hop count, deadline and
 * trace context in headers, and only hashes in its subject; every call settles — with the worker's
 * reply, the broker's refusal, or its timeout (PendingCalls).
 */
export class OutboundCalls {
  #seq = 0;
  readonly #session: ClusterSession;
  readonly #o: ParsedDistributedOptions;
  readonly #counters: DistributedCounters;
  readonly #pending: PendingCalls;
  readonly #quotas: ClusterQuotas;
  readonly #callerId: string;
  readonly #globalSubs: readonly Subscription[];
  readonly #tenantSubs: ReadonlyMap<TenantId, readonly Subscription[]>;

  constructor(deps: OutboundCallsDeps) {
    this.#session = deps.session;
    this.#o = deps.options;
    this.#counters = deps.counters;
    this.#pending = deps.pending;
    this.#quotas = deps.quotas;
    this.#callerId = deps.callerId;
    this.#globalSubs = deps.globalSubs;
    this.#tenantSubs = deps.tenantSubs;
  }

  /** A call to one agent of the tenant, wherever it lives; settles with its result or a typed error. */
  routeSend(tenant: TenantId, to: AgentId, message: unknown, options: SendOptions | undefined, sender: AgentId | undefined, hopCount: number): Promise<unknown> {
    let timeoutMs: number;
    let body: Uint8Array;
    let gate: Promise<void> | undefined;
    try {
      this.#session.checkRunning();
      to = toAgentId(to);
      timeoutMs = checkSendOptions(options, this.#o.defaultTimeoutMs);
      if (hopCount > this.#o.maxHops) throw new LoopDetectedError(hopCount, this.#o.maxHops);
      if (!this.#pending.hasRoom()) {
        this.#counters.pendingFull++;
        throw new QueueFullError(tenant, this.#o.maxPendingCalls);
      }
      body = encodeJson(bodyOf(to, message, sender, undefined), "a message");
      gate = this.#quotas.rateGate(tenant);
    } catch (err) {
      return Promise.reject(this.#noteRefusal("send", tenant, toAgentIdOrNull(to), hopCount, err, otelContext.active()));
    }
    if (gate === undefined) return this.#dispatchSend(tenant, to, body, timeoutMs, options, hopCount, otelContext.active());
    const parent = otelContext.active();
    const target = to;
    return gate.then(
      () => {
        // The runtime may have stopped, or the pending calls filled up, while the tokens came.
        this.#session.checkRunning();
        if (!this.#pending.hasRoom()) {
          this.#counters.pendingFull++;
          throw new QueueFullError(tenant, this.#o.maxPendingCalls);
        }
        return this.#dispatchSend(tenant, target, body, timeoutMs, options, hopCount, parent);
      },
      (err: unknown) => {
        throw this.#noteRefusal("send", tenant, target, hopCount, err, parent);
      },
    );
  }

  /**
   * Publishes an admitted call and awaits its reply (traced as the caller's send span). The message
   * goes straight onto the stream's subject with the call's own acknowledgement subject: the broker's
   * answer (stored, or refused: queue full, no stream) comes back on the caller's reply subscription
   * (`onReply`), with no request, timer or promise of the client library's per message.
   */
  #dispatchSend(tenant: TenantId, to: AgentId, body: Uint8Array, timeoutMs: number, options: SendOptions | undefined, hopCount: number, parent: Context): Promise<unknown> {
    const s = this.#session;
    const tok = s.token(tenant);
    const callId = (this.#seq++).toString(36);
    const replyTo = s.subjects.callReply(tok, this.#callerId, callId);
    const tracing = s.tracing;
    const t = tracing?.startSend(tenant, to, hopCount, parent) ?? null;
    const carrier: Carrier = {};
    injectContext(t?.parent ?? parent, tenant, carrier);
    const h = headersOf(carrier, tenant, { hop: hopCount, deadline: Date.now() + timeoutMs, replyTo });
    const result = this.#pending.add(callId, tenant, tok, timeoutMs, options?.signal, () => `agent ${to.toString()}`);
    this.#counters.sent++;
    try {
      s.nc!.publish(s.subjects.message(s.partitionFor(tenant, to), tok), body, { headers: h, reply: `${replyTo}.a` });
    } catch (err) {
      this.#pending.fail(callId, this.#publishError(err, tenant));
    }
    if (t === null) return result;
    return result.then(
      (v) => {
        tracing!.endSend(t, "ok");
        return v;
      },
      (err: unknown) => {
        tracing!.endSend(t, outcomeOf(err), err);
        throw err;
      },
    );
  }

  /** Publishes to the tenant's subscribers, wherever they live; resolves once the broker stored every message. */
  async routePublish(tenant: TenantId, topic: TopicId, message: unknown, sender: AgentId | undefined, hopCount: number): Promise<void> {
    const s = this.#session;
    s.checkRunning();
    topic = toTopicId(topic);
    if (hopCount > this.#o.maxHops) throw new LoopDetectedError(hopCount, this.#o.maxHops);
    const parent = otelContext.active();
    try {
      // One token per publish, whatever the number of recipients (as in the single-process runtime).
      const gate = this.#quotas.rateGate(tenant);
      if (gate !== undefined) await gate;
    } catch (err) {
      throw this.#noteRefusal("publish", tenant, topic, hopCount, err, parent);
    }
    s.checkRunning();
    const recipients = this.#recipients(tenant, topic);
    const tracing = s.tracing;
    const span = tracing?.startPublish(tenant, topic, hopCount, parent) ?? null;
    const carrier: Carrier = {};
    injectContext(span?.ctx ?? parent, tenant, carrier);
    const tok = s.token(tenant);
    try {
      await Promise.all(
        recipients.map((to) => {
          const body = encodeJson(bodyOf(to, message, sender, topic), "a message");
          this.#counters.published++;
          return s.js!.publish(s.subjects.message(s.partitionFor(tenant, to), tok), body, { headers: headersOf(carrier, tenant, { hop: hopCount, deadline: undefined, replyTo: undefined }) }).catch((err: unknown) => {
            throw this.#publishError(err, tenant);
          });
        }),
      );
      if (span !== null) tracing!.endPublish(span.span, "ok");
    } catch (err) {
      if (span !== null) tracing!.endPublish(span.span, outcomeOf(err), err);
      throw err;
    }
  }

  #recipients(tenant: TenantId, topic: TopicId): AgentId[] {
    const out: AgentId[] = [];
    for (const s of [...this.#globalSubs, ...(this.#tenantSubs.get(tenant) ?? [])]) {
      if (!s.matches(topic)) continue;
      const id = s.mapToAgent(topic);
      if (!out.some((o) => o.equals(id))) out.push(id);
    }
    return out;
  }

  /** A message on this process's reply subscription: a worker's reply to a call, or the broker's answer to its message. */
  onReply(msg: Msg): void {
    const where = this.#session.subjects.parseReply(msg.subject);
    if (where === null) return;
    const { tenantTok: tok, call: callId } = where;
    if (where.brokerAck) {
      this.#onBrokerAck(callId, tok, msg);
      return;
    }
    const reply = decodeReplyBody(msg.data);
    if (reply === null) {
      if (this.#pending.tenantOf(callId, tok) !== undefined) this.#pending.fail(callId, new TroupeError("BAD_REPLY", "a worker sent a reply that could not be read"));
      return;
    }
    if (reply.ok) this.#pending.reply(callId, tok, reply.v, undefined);
    else this.#pending.reply(callId, tok, undefined, fromWireError(reply.e));
  }

  /**
   * The broker's answer to a call's message: `{"stream":…,"seq":…}` when stored, `{"error":…}` when
   * refused (a tenant's queue is full), or a 503 status when no stream takes the subject. A refusal
   * fails the call at once; a stored message is noted, so a timeout can say whether it got that far.
   */
  #onBrokerAck(callId: string, tok: string, msg: Msg): void {
    const refused = msg.data.length === 0 ? msg.headers?.code === 503 : mentionsError(msg.data);
    if (!refused) {
      this.#pending.stored(callId, tok);
      return;
    }
    const tenant = this.#pending.tenantOf(callId, tok);
    if (tenant === undefined) return;
    if (msg.data.length === 0) {
      const subjects = this.#session.subjects;
      this.#pending.fail(callId, new TroupeError("BROKER_UNAVAILABLE", `no stream takes the messages of namespace "${subjects.namespace}" (${subjects.streamName}): start a worker of the namespace first`));
      return;
    }
    const ack = decodeJson(msg.data, brokerAckSchema);
    const description = ack?.error?.description ?? "an unreadable answer";
    this.#pending.fail(callId, this.#publishError(new Error(description), tenant as TenantId));
  }

  /** Counts a refused send or publish, and traces a rate-limited one (it never reached the broker). */
  #noteRefusal(kind: "send" | "publish", tenant: TenantId, target: AgentId | TopicId | null, hopCount: number, err: unknown, parent: Context): unknown {
    if (err instanceof RateLimitedError) {
      this.#counters.rateLimited++;
      if (target !== null) this.#session.tracing?.rejected(kind, tenant, target.type, target instanceof AgentId ? target.key : undefined, hopCount, "rate_limited", err, parent);
    }
    return err;
  }

  #publishError(err: unknown, tenant: TenantId): TroupeError {
    if (err instanceof TroupeError) return err;
    const text = err instanceof Error ? err.message : String(err);
    if (/maximum messages per subject|maximum messages exceeded/i.test(text)) return new QueueFullError(tenant, this.#o.maxQueuedPerTenantPartition);
    return new TroupeError("BROKER_UNAVAILABLE", `the broker did not accept the message: ${text}`, { cause: err });
  }
}

function bodyOf(to: AgentId, message: unknown, sender: AgentId | undefined, topic: TopicId | undefined): MessageBody {
  const body: MessageBody = { t: to.type, k: to.key, m: message };
  if (sender !== undefined) body.s = { t: sender.type, k: sender.key };
  if (topic !== undefined) body.p = { t: topic.type, s: topic.source };
  return body;
}

function headersOf(carrier: Carrier, tenant: TenantId, route: Route): MsgHdrs {
  const h = natsHeaders();
  for (const k in carrier) h.append(k, carrier[k]!);
  h.append(HEADER.tenant, tenant);
  h.append(HEADER.route, encodeRoute(route));
  return h;
}

function outcomeOf(err: unknown): "timeout" | "quota_rejected" | "rate_limited" | "loop_dropped" | "dropped" | "error" {
  const code = err instanceof TroupeError ? err.code : "";
  if (code === "TIMEOUT") return "timeout";
  if (code === "QUEUE_FULL") return "quota_rejected";
  if (code === "RATE_LIMITED") return "rate_limited";
  if (code === "LOOP_DETECTED") return "loop_dropped";
  if (code === "ABORTED" || code === "RUNTIME_STOPPED" || code === "MESSAGE_DROPPED") return "dropped";
  return "error";
}

import { context as otelContext } from "@opentelemetry/api";
import type { JsMsg } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { AgentId, TopicId } from "../agents/ids.js";
import { PoisonMessageError, RuntimeStoppedError } from "../errors.js";
import type { Runtime } from "../runtime.js";
import type { TenantId } from "@troupe/contract";
import { parseTenantId } from "../tenancy/parse-tenant-id.js";
import { extractContext, type Carrier } from "../tracing/propagation.js";
import type { AckKeepAlive } from "./ack-keep-alive.js";
import type { ClusterSession } from "./cluster-session.js";
import type { ParsedDistributedOptions } from "./distributed-runtime-options.js";
import type { DistributedCounters } from "./distributed-stats.js";
import { HEADER, decodeMessageBody, encodeJson, parseRoute, toWireError, type MessageBody, type ReplyBody } from "./message-wire.js";
import { consumerConfig } from "./namespace-stream.js";
import type { PartitionOwner } from "./partition-leases.js";
import { InboundMessage } from "./routed-agent.js";
import { ServedPartition } from "./served-partition.js";

/** What partition serving needs of its DistributedRuntime, fixed at construction. */
export interface PartitionServerDeps {
  session: ClusterSession;
  options: ParsedDistributedOptions;
  counters: DistributedCounters;
  keepAlive: AckKeepAlive;
  /** The worker's local runtime, which runs the turns. */
  local: Runtime;
  noteError: (err: unknown) => void;
}

/**
 * Serves the partitions this worker holds: consumes each one's messages while its lease is held and
 * runs them as turns of the local runtime. Guarantees: a message whose tenant does not match its
 * subject's tenant token, or that is malformed, is terminated unrun; a message is replied to and
 * acknowledged only after its turn and only while the lease it was taken under is still held (else
 * the turn is fenced: the partition's holder runs it again); a message delivered past `maxDeliver`
 * is dead-lettered and its caller answered with PoisonMessageError.
 */
export class PartitionServer {
  readonly #served = new Map<number, ServedPartition>();
  readonly #session: ClusterSession;
  readonly #o: ParsedDistributedOptions;
  readonly #counters: DistributedCounters;
  readonly #keepAlive: AckKeepAlive;
  readonly #local: Runtime;
  readonly #noteError: (err: unknown) => void;

  constructor(deps: PartitionServerDeps) {
    this.#session = deps.session;
    this.#o = deps.options;
    this.#counters = deps.counters;
    this.#keepAlive = deps.keepAlive;
    this.#local = deps.local;
    this.#noteError = deps.noteError;
  }

  /** What the leases call when this worker acquires, releases (hands off) or loses a partition. */
  partitionOwner(): PartitionOwner {
    const s = this.#session;
    return {
      acquired: (p, fencingToken) => {
        const served = new ServedPartition(p, fencingToken, (sp, m) => this.#onMessage(sp, m), (e) => this.#noteError(e));
        this.#served.set(p, served);
        void served.start(s.js!, s.jsm!, s.subjects.streamName, consumerConfig(s.subjects, this.#o, p), this.#o.maxInFlightPerPartition, s.attempts!);
      },
      release: async (p) => {
        const served = this.#served.get(p);
        if (served === undefined) return;
        served.stop();
        await served.drain(this.#o.ackWaitMs);
        // Handed back cleanly: the next holder must not count what this one had only buffered.
        if (s.leases?.holds(p, served.fencingToken) === true) await served.retire(s.jsm!, s.subjects.streamName, `p${p}`);
        this.#served.delete(p);
        await s.routed?.handedOff(p, true).catch((e: unknown) => this.#noteError(e));
      },
      lost: (p) => {
        this.#served.get(p)?.stop();
        this.#served.delete(p);
        void s.routed?.handedOff(p, false);
      },
    };
  }

  #onMessage(served: ServedPartition, m: JsMsg): void {
    const done = (): void => served.settled();
    const parsed = this.#parseInbound(m);
    if (parsed === null) {
      this.#counters.rejected++;
      m.term("malformed or mismatched message");
      done();
      return;
    }
    const { tenant, body, hop, replyTo, deadline, carrier } = parsed;
    if (m.info.deliveryCount > 1) this.#counters.redelivered++;
    const attempts = served.priorAttempts(m.seq) + m.info.deliveryCount;
    if (attempts > this.#o.maxDeliver) {
      this.#deadLetter(served, m, tenant, replyTo, body, attempts - 1);
      done();
      return;
    }
    const remainingMs = deadline === undefined ? undefined : deadline - Date.now();
    if (remainingMs !== undefined && remainingMs <= 0) {
      this.#counters.expired++;
      if (this.#fenceCheck(served)) m.ack();
      done();
      return;
    }
    let to: AgentId;
    let inbound: InboundMessage;
    try {
      to = new AgentId(body.t, body.k);
      const sender = body.s === undefined ? undefined : new AgentId(body.s.t, body.s.k);
      const topic = body.p === undefined ? undefined : new TopicId(body.p.t, body.p.s);
      inbound = new InboundMessage(body.m, `${this.#session.subjects.streamName}:${m.seq}`, hop, replyTo !== undefined, sender, topic, served.fencingToken);
    } catch (err) {
      this.#finish(served, m, replyTo, { ok: false, e: toWireError(err) }, done);
      return;
    }
    // Lengthen the ack deadline while the turn runs, so only a dead worker's messages are redelivered.
    this.#keepAlive.track(m);
    const ctx = extractContext(carrier).context;
    const options = remainingMs === undefined ? undefined : { timeoutMs: remainingMs };
    const run = (): Promise<unknown> => this.#local.tenant(tenant).send(to, inbound, options);
    // Counted as this worker's demand for a share of the tenant's cluster-wide in-flight quota.
    this.#session.shares?.taken(tenant);
    otelContext.with(ctx, run).then(
      (v) => {
        this.#session.shares?.settled(tenant);
        this.#keepAlive.untrack(m);
        this.#counters.handled++;
        this.#finish(served, m, replyTo, { ok: true, v }, done);
      },
      (err: unknown) => {
        this.#session.shares?.settled(tenant);
        this.#keepAlive.untrack(m);
        if (err instanceof RuntimeStoppedError || !this.#session.running) {
          // This worker is leaving: the next holder runs it.
          m.nak();
          done();
          return;
        }
        this.#counters.handled++;
        this.#finish(served, m, replyTo, { ok: false, e: toWireError(err) }, done);
      },
    );
  }

  /**
   * Replies (for a call), then acknowledges: a crash between the two redelivers, never loses. Only
   * while this worker still holds the partition under the lease it took the message with: a worker
   * that stalled past its lease discards the result (the new holder runs the message again).
   */
  #finish(served: ServedPartition, m: JsMsg, replyTo: string | undefined, reply: ReplyBody, done: () => void): void {
    if (!this.#fenceCheck(served)) {
      done();
      return;
    }
    const nc = this.#session.nc;
    try {
      if (replyTo !== undefined && nc !== null) {
        let data: Uint8Array;
        try {
          data = encodeJson(reply, "a handler's result");
        } catch (err) {
          data = encodeJson({ ok: false, e: toWireError(err) }, "an error");
        }
        nc.publish(replyTo, data);
      }
      m.ack();
    } catch (err) {
      this.#noteError(err);
    } finally {
      done();
    }
  }

  /** True while this worker holds `served`'s partition under its lease; else counts a fenced turn and gives up stale holdings at once. */
  #fenceCheck(served: ServedPartition): boolean {
    const leases = this.#session.leases;
    if (leases?.holds(served.partition, served.fencingToken) === true) return true;
    this.#counters.fenced++;
    leases?.fenceExpired();
    return false;
  }

  /**
   * Gives up a message that has been delivered `attempts` times without completing: terminated (the
   * broker never delivers it again), its caller answered with PoisonMessageError, announced on the
   * dead-letter subject with its original headers and body, and counted.
   */
  #deadLetter(served: ServedPartition, m: JsMsg, tenant: TenantId, replyTo: string | undefined, body: MessageBody, attempts: number): void {
    if (!this.#fenceCheck(served)) return;
    this.#counters.deadLettered++;
    const s = this.#session;
    try {
      const h = natsHeaders();
      for (const [k, v] of m.headers ?? []) for (const one of v) h.append(k, one);
      h.set(HEADER.attempts, String(attempts));
      h.set(HEADER.sequence, String(m.seq));
      s.nc?.publish(s.subjects.deadLetter(served.partition, s.token(tenant)), m.data, { headers: h });
      if (replyTo !== undefined && s.nc !== null) {
        s.nc.publish(replyTo, encodeJson({ ok: false, e: toWireError(new PoisonMessageError(`${body.t}/${body.k}`, attempts)) }, "an error"));
      }
    } catch (err) {
      this.#noteError(err);
    }
    m.term(`given up after ${attempts} deliveries`);
  }

  #parseInbound(m: JsMsg): {
    tenant: TenantId;
    body: MessageBody;
    hop: number;
    replyTo: string | undefined;
    deadline: number | undefined;
    carrier: Carrier;
  } | null {
    const where = this.#session.subjects.parseMessage(m.subject);
    const h = m.headers;
    if (where === null || h === undefined) return null;
    // One pass over the headers (the first value of each name counts).
    let tenantRaw: string | undefined;
    let routeRaw: string | undefined;
    const carrier: Carrier = {};
    for (const [name, values] of h) {
      const v = values[0];
      if (v === undefined) continue;
      if (name === HEADER.tenant) tenantRaw ??= v;
      else if (name === HEADER.route) routeRaw ??= v;
      else if ((name === "traceparent" || name === "tracestate" || name === "baggage") && carrier[name] === undefined) carrier[name] = v;
    }
    let tenant: TenantId;
    try {
      tenant = parseTenantId(tenantRaw);
    } catch {
      return null;
    }
    // The subject's tenant token must be this tenant's: a client allowed only its own subjects cannot speak for another tenant.
    if (this.#session.token(tenant) !== where.tenantTok) return null;
    const route = routeRaw === undefined ? null : parseRoute(routeRaw);
    if (route === null) return null;
    const { hop, replyTo, deadline } = route;
    if (replyTo !== undefined && !this.#isCallReply(replyTo, where.tenantTok)) return null;
    const body = decodeMessageBody(m.data);
    if (body === null) return null;
    return { tenant, body, hop, replyTo, deadline, carrier };
  }

  /** True when `subject` is the reply subject of one call of the tenant with token `tenantTok` (a worker answers nowhere else). */
  #isCallReply(subject: string, tenantTok: string): boolean {
    const r = this.#session.subjects.parseReply(subject);
    return r !== null && !r.brokerAck && r.tenantTok === tenantTok && !/[*>\s]/.test(subject);
  }
}

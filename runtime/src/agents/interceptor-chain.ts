import { MessageDroppedError } from "../errors.js";
import { DROP, type DeliverEnvelope, type Drop, type Interceptor, type PublishEnvelope, type SendEnvelope } from "./interceptor.js";

/**
 * A runtime's interceptors, composed per hook in registration order (the first added is outermost).
 * Guarantees: each hook's chain holds only the interceptors that define that hook, so a message
 * whose hook has none pays nothing; a dropped delivery surfaces as MessageDroppedError.
 */
export class InterceptorChain {
  readonly #interceptors: Interceptor[] = [];
  #sendInterceptors: Interceptor[] = [];
  #publishInterceptors: Interceptor[] = [];
  #deliverInterceptors: Interceptor[] = [];

  /** Adds an interceptor inside those added before it. */
  add(interceptor: Interceptor): void {
    this.#interceptors.push(interceptor);
    this.#composeInterceptors();
  }

  /** True when some interceptor has onSend. */
  get hasSend(): boolean {
    return this.#sendInterceptors.length > 0;
  }

  /** True when some interceptor has onPublish. */
  get hasPublish(): boolean {
    return this.#publishInterceptors.length > 0;
  }

  /** True when some interceptor has onDeliver. */
  get hasDeliver(): boolean {
    return this.#deliverInterceptors.length > 0;
  }

  /** Runs the send interceptors around `terminal`; DROP (or what they return) as they answer. May throw synchronously. */
  runSend(envelope: SendEnvelope, terminal: (e: SendEnvelope) => Promise<unknown>): Promise<unknown> | Drop {
    return this.#sendInterceptors.reduceRight<(e: SendEnvelope) => Promise<unknown>>((next, i) => (e) => Promise.resolve(i.onSend!(e, next)), terminal)(envelope);
  }

  /** Runs the publish interceptors around `terminal`; DROP (or what they return) as they answer. May throw synchronously. */
  runPublish(envelope: PublishEnvelope, terminal: (e: PublishEnvelope) => Promise<void>): Promise<void> | Drop {
    return this.#publishInterceptors.reduceRight<(e: PublishEnvelope) => Promise<void>>((next, i) => (e) => Promise.resolve(i.onPublish!(e, next)) as Promise<void>, terminal)(envelope);
  }

  /** Runs the deliver interceptors around `terminal` (the handler); an interceptor returning DROP throws MessageDroppedError. */
  runDeliver(envelope: DeliverEnvelope, terminal: (e: DeliverEnvelope) => unknown): unknown {
    const run = this.#deliverInterceptors.reduceRight<(e: DeliverEnvelope) => unknown>(
      (next, i) => (e) => {
        const r = i.onDeliver!(e, next);
        if (r === DROP) throw new MessageDroppedError("an interceptor dropped the delivery");
        return r;
      },
      terminal,
    );
    return run(envelope);
  }

  #composeInterceptors(): void {
    this.#sendInterceptors = this.#interceptors.filter((i) => i.onSend !== undefined);
    this.#publishInterceptors = this.#interceptors.filter((i) => i.onPublish !== undefined);
    this.#deliverInterceptors = this.#interceptors.filter((i) => i.onDeliver !== undefined);
  }
}

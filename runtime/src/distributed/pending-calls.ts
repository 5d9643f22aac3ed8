import { AbortedError, TimeoutError, type TroupeError } from "../errors.js";

interface Pending {
  tenant: string;
  tenantTok: string;
  /** The broker acknowledged storing the call's message. */
  stored: boolean;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * Calls waiting for their reply. Guarantees: every call settles exactly once — with its reply, a
 * TimeoutError when `timeoutMs` passes (whether or not any worker is alive), an AbortedError when
 * its signal aborts, or the error given to `failAll`; replies that come later, twice, or for another
 * tenant are ignored and counted. At most `maxPending` calls wait at once.
 */
export class PendingCalls {
  readonly #calls = new Map<string, Pending>();
  /** Replies that matched no waiting call (late after a timeout, duplicates after a redelivery). */
  lateReplies = 0;
  /** Replies whose subject's tenant did not match the call's tenant (dropped). */
  mismatchedReplies = 0;
  timeouts = 0;

  constructor(readonly maxPending: number) {}

  get size(): number {
    return this.#calls.size;
  }

  /** True when another call may wait. */
  hasRoom(): boolean {
    return this.#calls.size < this.maxPending;
  }

  /** Registers a call; the returned promise settles as described above. */
  add(callId: string, tenant: string, tenantTok: string, timeoutMs: number, signal: AbortSignal | undefined, describe: () => string): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.timeouts++;
        const stored = this.#calls.get(callId)?.stored === true;
        const why = stored ? "" : " (the broker never confirmed storing the message: is it reachable, and is a worker of this namespace started?)";
        this.#settle(callId, undefined, new TimeoutError(`no answer from ${describe()} within ${timeoutMs} ms${why}`));
      }, timeoutMs);
      const p: Pending = { tenant, tenantTok, stored: false, resolve, reject, timer, signal, onAbort: undefined };
      this.#calls.set(callId, p);
      if (signal !== undefined) {
        p.onAbort = () => this.#settle(callId, undefined, new AbortedError());
        if (signal.aborted) p.onAbort();
        else signal.addEventListener("abort", p.onAbort, { once: true });
      }
    });
  }

  /** Settles a call with a reply received for tenant `tenantTok`; false when nothing waited for it. */
  reply(callId: string, tenantTok: string, value: unknown, error: TroupeError | undefined): boolean {
    const p = this.#calls.get(callId);
    if (p === undefined) {
      this.lateReplies++;
      return false;
    }
    if (p.tenantTok !== tenantTok) {
      this.mismatchedReplies++;
      return false;
    }
    return this.#settle(callId, value, error);
  }

  /** Records that the broker stored the message of a waiting call of `tenantTok`; false when there is none. */
  stored(callId: string, tenantTok: string): boolean {
    const p = this.#calls.get(callId);
    if (p === undefined || p.tenantTok !== tenantTok) return false;
    p.stored = true;
    return true;
  }

  /** The tenant of a waiting call of `tenantTok`; undefined when there is none. */
  tenantOf(callId: string, tenantTok: string): string | undefined {
    const p = this.#calls.get(callId);
    return p !== undefined && p.tenantTok === tenantTok ? p.tenant : undefined;
  }

  /** Fails a call now (e.g. the broker refused the message). */
  fail(callId: string, error: unknown): void {
    this.#settle(callId, undefined, error);
  }

  /** Fails every waiting call (the runtime stops). */
  failAll(error: unknown): void {
    for (const id of [...this.#calls.keys()]) this.#settle(id, undefined, error);
  }

  #settle(callId: string, value: unknown, error: unknown): boolean {
    const p = this.#calls.get(callId);
    if (p === undefined) return false;
    this.#calls.delete(callId);
    clearTimeout(p.timer);
    if (p.signal !== undefined && p.onAbort !== undefined) p.signal.removeEventListener("abort", p.onAbort);
    if (error !== undefined) p.reject(error);
    else p.resolve(value);
    return true;
  }
}

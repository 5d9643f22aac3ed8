import type { Activation } from "./activation.js";

/**
 * Agents that are active but idle (nothing queued, nothing running), least recently used first.
 * O(1) insert, remove and pop; the links live on the activations, so the list allocates nothing.
 */
export class IdleList {
  #head: Activation | null = null;
  #tail: Activation | null = null;
  size = 0;

  /** Appends as the most recently used. */
  append(a: Activation, nowMs: number): void {
    if (a.inIdleList) this.remove(a);
    a.idleSinceMs = nowMs;
    a.idlePrev = this.#tail;
    a.idleNext = null;
    if (this.#tail === null) this.#head = a;
    else this.#tail.idleNext = a;
    this.#tail = a;
    a.inIdleList = true;
    this.size++;
  }

  remove(a: Activation): void {
    if (!a.inIdleList) return;
    if (a.idlePrev === null) this.#head = a.idleNext;
    else a.idlePrev.idleNext = a.idleNext;
    if (a.idleNext === null) this.#tail = a.idlePrev;
    else a.idleNext.idlePrev = a.idlePrev;
    a.idlePrev = a.idleNext = null;
    a.inIdleList = false;
    this.size--;
  }

  /** The least recently used idle agent, or null. */
  peek(): Activation | null {
    return this.#head;
  }
}

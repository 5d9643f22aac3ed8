import { setImmediate as nextTurn } from "node:timers/promises";

/**
 * Spans an encoder writes between two yields to the event loop: about what ingest decodes for one
 * typical export request (a few milliseconds). Smaller slices starve the forwarder when ingest is
 * saturated (each yield waits for every ingest request ready in that turn), so it falls behind and
 * drops what its queue cannot hold.
 */
export const SPANS_PER_SLICE = 4096;

/**
 * Counts spans encoded and, every SPANS_PER_SLICE, lets the event loop run: encoding a large
 * request then holds ingest's requests back no longer than one slice.
 */
export class EncodeSlices {
  #spans = 0;

  /** Call after each span; resolves at once, or after the event loop had a turn at a slice's end. */
  next(): Promise<void> | undefined {
    return ++this.#spans % SPANS_PER_SLICE === 0 ? nextTurn() : undefined;
  }
}

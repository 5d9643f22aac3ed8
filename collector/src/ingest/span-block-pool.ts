import { SpanBlockBuilder } from "../store/span-block.js";

const IDLE_BUILDERS: SpanBlockBuilder[] = [];
const MAX_IDLE_BUILDERS = 8;

/** An empty span block builder: one given back by `releaseSpanBlockBuilder` when there is one, else a new one. */
export function takeSpanBlockBuilder(): SpanBlockBuilder {
  return IDLE_BUILDERS.pop() ?? new SpanBlockBuilder();
}

/**
 * Gives a builder back for reuse once its block is finished (or abandoned): its column buffers then
 * serve the next request instead of being allocated again (which, at tens of megabytes a second,
 * kept the garbage collector busy). At most a few are kept; giving one back twice keeps it once.
 */
export function releaseSpanBlockBuilder(builder: SpanBlockBuilder): void {
  builder.reset();
  if (IDLE_BUILDERS.length < MAX_IDLE_BUILDERS && !IDLE_BUILDERS.includes(builder)) IDLE_BUILDERS.push(builder);
}

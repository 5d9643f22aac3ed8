import { INVALID_SPAN_CONTEXT, trace } from "@opentelemetry/api";
import type { Context, Span } from "@opentelemetry/api";

/**
 * The key @opentelemetry/api keeps a context's span under. The API does not export it, so it is read
 * once by handing `trace.setSpan` a context that records the key it is asked to set.
 */
const SPAN_KEY: symbol = (() => {
  let key: symbol | undefined;
  const recorder: Context = {
    getValue: () => undefined,
    setValue: (k) => {
      key = k;
      return recorder;
    },
    deleteValue: () => recorder,
  };
  trace.setSpan(recorder, trace.wrapSpanContext(INVALID_SPAN_CONTEXT));
  if (key === undefined) throw new Error("@opentelemetry/api did not set the span through Context.setValue");
  return key;
})();

/** Past this many overlays on a chain, a context is copied as the API does, so lookups stay short. */
const MAX_DEPTH = 24;

/**
 * A context that is its parent with one value set (or, set to undefined, deleted): what the API's
 * own contexts answer to `getValue`, `setValue` and `deleteValue`, without copying the parent's map
 * and allocating closures for each span as the API's contexts do. The runtime makes three contexts a
 * message; with thousands of messages in flight those copies dominated its garbage collection.
 */
class OverlayContext implements Context {
  constructor(
    readonly parent: Context,
    readonly key: symbol,
    readonly value: unknown,
    readonly depth: number,
  ) {}

  getValue(key: symbol): unknown {
    return key === this.key ? this.value : this.parent.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return overlay(this, key, value);
  }

  deleteValue(key: symbol): Context {
    return overlay(this, key, undefined);
  }
}

function overlay(parent: Context, key: symbol, value: unknown): Context {
  if (!(parent instanceof OverlayContext)) return new OverlayContext(parent, key, value, 1);
  if (parent.depth < MAX_DEPTH) return new OverlayContext(parent, key, value, parent.depth + 1);
  // A long chain (a deep handler-to-handler path): onto the API's own context below it, as the API would have built it.
  const entries: Array<[symbol, unknown]> = [[key, value]];
  let ctx: Context = parent;
  while (ctx instanceof OverlayContext) {
    entries.push([ctx.key, ctx.value]);
    ctx = ctx.parent;
  }
  for (let i = entries.length - 1; i >= 0; i--) {
    const [k, v] = entries[i]!;
    ctx = v === undefined ? ctx.deleteValue(k) : ctx.setValue(k, v);
  }
  return ctx;
}

/** `trace.setSpan(ctx, span)`, as cheaply as a context can be made. */
export function contextWithSpan(ctx: Context, span: Span): Context {
  return overlay(ctx, SPAN_KEY, span);
}

import { gunzip } from "node:zlib";
import { promisify } from "node:util";
import { CollectorError } from "../errors.js";
import { bodyBudgetExceeded, socketBodyOf, type SocketBody } from "../http/socket-body.js";

const gunzipAsync = promisify(gunzip);

/**
 * The request's body stopped arriving: the client closed the connection mid-body, or the server cut
 * it at its body deadline (ConnectionLimits.requestTimeoutMs). Nobody is left to answer; routes count
 * it as `aborted`, not as an internal error. (Not a CollectorError: it maps to no HTTP status.)
 */
export class RequestAbortedError extends Error {
  constructor(options?: { cause?: unknown }) {
    super("the request body did not arrive: the connection closed mid-body", options);
    this.name = "RequestAbortedError";
  }
}

/** A request's body. Call `release()` once nothing refers to `bytes` any more: its buffer then serves a later request. */
export interface RequestBody {
  bytes: Buffer;
  release(): void;
}

/**
 * Reads a request body of at most `maxBytes` bytes and, when `Content-Encoding: gzip`, inflates it
 * to at most `maxBytes` bytes (a gzip bomb stops at the bound). Over the bound: payload_too_large;
 * a broken gzip stream: bad_request; another encoding: unsupported_media_type. Large bodies are
 * read into reused buffers (as they arrive when their length is declared, joined at the end when
 * chunked): fresh megabytes per request made the garbage collector run full collections several
 * times a second under load; a buffer is taken only once the first bytes arrive and goes back when
 * the read fails. A connection that fails mid-body: RequestAbortedError. The bytes come straight
 * from the socket when the server attached it to the request (http/socket-body.ts: the OTLP export
 * routes), else through the request's web stream. There is no read deadline here: the server's
 * requestTimeoutMs bounds how long a body may take, for every route (http/server.ts).
 */
export async function readBody(request: Request, maxBytes: number): Promise<RequestBody> {
  const encoding = (request.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  if (encoding !== "gzip" && encoding !== "identity" && encoding !== "") {
    throw new CollectorError("unsupported_media_type", `Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not supported; use gzip or none`);
  }
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (declared > maxBytes) throw tooLarge(maxBytes, "body");
  const body = new BodyBytes(maxBytes, Number.isSafeInteger(declared) ? declared : undefined);
  try {
    const socket = socketBodyOf(request);
    if (socket) await readSocket(socket, body);
    else if (request.body) await readStream(request.body, body);
  } catch (err) {
    body.discard();
    throw err;
  }
  const raw = body.take();
  if (encoding !== "gzip") return raw;
  try {
    const inflated = await gunzipAsync(raw.bytes, { maxOutputLength: maxBytes });
    return { bytes: inflated, release: () => undefined };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) throw tooLarge(maxBytes, "decompressed body");
    throw new CollectorError("bad_request", `body is not valid gzip: ${(err as Error).message}`);
  } finally {
    raw.release();
  }
}

/** Reads a web stream into `body`. */
async function readStream(stream: ReadableStream<Uint8Array>, body: BodyBytes): Promise<void> {
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await read(reader);
    if (done) return;
    try {
      body.add(value);
    } catch (err) {
      await reader.cancel().catch(() => undefined);
      throw err;
    }
  }
}

/**
 * Reads the body from Node's request into `body`, each chunk taken from the server's budget first
 * (past it: 503 overloaded, the rest left unread for Node to drain after the answer). Past the bound
 * the request is destroyed, as cancelling its stream would; a connection that closes mid-body is
 * RequestAbortedError.
 */
function readSocket({ incoming, take }: SocketBody, body: BodyBytes): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      incoming.off("data", onData).off("end", onEnd).off("error", onError).off("close", onClose);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onData = (chunk: Buffer): void => {
      if (!take(chunk.byteLength)) {
        incoming.pause();
        return settle(bodyBudgetExceeded());
      }
      try {
        body.add(chunk);
      } catch (err) {
        incoming.destroy();
        settle(err);
      }
    };
    const onEnd = (): void => settle();
    const onError = (err: Error): void => settle(new RequestAbortedError({ cause: err }));
    // Closed before its end was read: a body cut short, or one the parser had whole but not yet handed over; either way not to be trusted.
    const onClose = (): void => settle(incoming.readableEnded ? undefined : new RequestAbortedError());
    if (incoming.readableEnded) return settle();
    incoming.on("data", onData).on("end", onEnd).on("error", onError).on("close", onClose);
  });
}

/**
 * A body's bytes as they arrive, at most `maxBytes` (past it `add` throws payload_too_large). With a
 * declared length of POOLED_MIN_BYTES or more, into a reused buffer taken at the first chunk (a
 * client that declares megabytes and sends nothing holds none); else as chunks, joined at the end
 * (into a reused buffer when large: OpenTelemetry JS's HTTP exporters send their bodies chunked).
 */
class BodyBytes {
  readonly #maxBytes: number;
  readonly #declared: number | undefined;
  #pooled: Buffer | undefined;
  #intoPooled: boolean;
  readonly #chunks: Uint8Array[] = [];
  #total = 0;

  constructor(maxBytes: number, declared: number | undefined) {
    this.#maxBytes = maxBytes;
    this.#declared = declared;
    this.#intoPooled = declared !== undefined && declared >= POOLED_MIN_BYTES;
  }

  add(chunk: Uint8Array): void {
    const total = this.#total;
    if (total + chunk.byteLength > this.#maxBytes) throw tooLarge(this.#maxBytes, "body");
    if (this.#intoPooled) {
      const pooled = (this.#pooled ??= takeBuffer(this.#declared!));
      if (total + chunk.byteLength <= this.#declared!) pooled.set(chunk, total);
      else {
        // Longer than declared (the request is malformed; Node usually stops it first): keep it as chunks.
        this.#chunks.push(Buffer.from(pooled.subarray(0, total)));
        this.#intoPooled = false;
      }
    }
    if (!this.#intoPooled) this.#chunks.push(chunk);
    this.#total = total + chunk.byteLength;
  }

  /** The bytes read, once the body has ended. */
  take(): RequestBody {
    const total = this.#total;
    const pooled = this.#pooled;
    if (pooled && this.#intoPooled) return { bytes: pooled.subarray(0, total), release: once(() => giveBack(pooled)) };
    this.discard();
    const chunks = this.#chunks;
    if (chunks.length === 0) return { bytes: Buffer.alloc(0), release: () => undefined };
    if (chunks.length === 1) {
      const only = chunks[0] as Uint8Array;
      return { bytes: Buffer.from(only.buffer, only.byteOffset, only.byteLength), release: () => undefined };
    }
    if (total >= POOLED_MIN_BYTES) {
      const buffer = takeBuffer(total);
      let offset = 0;
      for (const chunk of chunks) {
        buffer.set(chunk, offset);
        offset += chunk.byteLength;
      }
      return { bytes: buffer.subarray(0, total), release: once(() => giveBack(buffer)) };
    }
    return { bytes: Buffer.concat(chunks, total), release: () => undefined };
  }

  /** Gives the reused buffer back (a failed read, or a body kept as chunks after all). */
  discard(): void {
    if (this.#pooled) giveBack(this.#pooled);
    this.#pooled = undefined;
  }
}

/** Bodies smaller than this are not worth pooling. */
const POOLED_MIN_BYTES = 256 * 1024;
const MAX_IDLE_BUFFERS = 8;
const idleBuffers: Buffer[] = [];

/** A buffer of at least `bytes` from the idle ones (the smallest that fits), or a new one. */
function takeBuffer(bytes: number): Buffer {
  let best = -1;
  for (let i = 0; i < idleBuffers.length; i++) {
    const b = idleBuffers[i]!;
    if (b.length >= bytes && (best < 0 || b.length < idleBuffers[best]!.length)) best = i;
  }
  if (best >= 0) return idleBuffers.splice(best, 1)[0]!;
  // Rounded up, so bodies of slightly different sizes share buffers.
  return Buffer.allocUnsafe(Math.ceil(bytes / POOLED_MIN_BYTES) * POOLED_MIN_BYTES);
}

function giveBack(buffer: Buffer): void {
  if (idleBuffers.length < MAX_IDLE_BUFFERS) idleBuffers.push(buffer);
  else {
    // Full: keep the larger ones, which fit more requests.
    const smallest = idleBuffers.reduce((min, b, i) => (b.length < idleBuffers[min]!.length ? i : min), 0);
    if (idleBuffers[smallest]!.length < buffer.length) idleBuffers[smallest] = buffer;
  }
}

/** One read of the body; a failure of the stream (the connection, not the data) is RequestAbortedError. */
async function read(reader: ReadableStreamDefaultReader<Uint8Array>): ReturnType<typeof reader.read> {
  try {
    return await reader.read();
  } catch (err) {
    // The server's in-flight budget refuses with a CollectorError (503): keep it.
    throw err instanceof CollectorError ? err : new RequestAbortedError({ cause: err });
  }
}

function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    f();
  };
}

function tooLarge(maxBytes: number, what: string): CollectorError {
  return new CollectorError("payload_too_large", `${what} exceeds ${maxBytes} bytes; send smaller batches`);
}

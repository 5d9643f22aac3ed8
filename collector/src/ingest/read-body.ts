import { gunzip } from "node:zlib";
import { promisify } from "node:util";
import { CollectorError } from "../errors.js";

const gunzipAsync = promisify(gunzip);

/**
 * Reads a request body of at most `maxBytes` bytes and, when `Content-Encoding: gzip`, inflates it
 * to at most `maxBytes` bytes (a gzip bomb stops at the bound). Over the bound: payload_too_large;
 * a broken gzip stream: bad_request; another encoding: unsupported_media_type.
 */
export async function readBody(request: Request, maxBytes: number): Promise<Buffer> {
  const encoding = (request.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  if (encoding !== "gzip" && encoding !== "identity" && encoding !== "") {
    throw new CollectorError("unsupported_media_type", `Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not supported; use gzip or none`);
  }
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (declared > maxBytes) throw tooLarge(maxBytes, "body");
  const raw = await readLimited(request, maxBytes);
  if (encoding !== "gzip") return raw;
  try {
    return await gunzipAsync(raw, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) throw tooLarge(maxBytes, "decompressed body");
    throw new CollectorError("bad_request", `body is not valid gzip: ${(err as Error).message}`);
  }
}

async function readLimited(request: Request, maxBytes: number): Promise<Buffer> {
  if (!request.body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(maxBytes, "body");
    }
    chunks.push(value);
  }
  if (chunks.length === 1) {
    const only = chunks[0] as Uint8Array;
    return Buffer.from(only.buffer, only.byteOffset, only.byteLength);
  }
  return Buffer.concat(chunks, total);
}

function tooLarge(maxBytes: number, what: string): CollectorError {
  return new CollectorError("payload_too_large", `${what} exceeds ${maxBytes} bytes; send smaller batches`);
}

import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { CollectorError } from "../errors.js";
import { RequestAbortedError, readBody } from "./read-body.js";

/** A request whose body arrives in `chunkBytes` pieces, declaring `declared` bytes. */
function request(body: Buffer, options: { chunkBytes?: number; declared?: number; gzip?: boolean } = {}): Request {
  const chunkBytes = options.chunkBytes ?? 64 * 1024;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < body.length; i += chunkBytes) controller.enqueue(new Uint8Array(body.subarray(i, i + chunkBytes)));
      controller.close();
    },
  });
  const headers: Record<string, string> = { "content-length": String(options.declared ?? body.length) };
  if (options.gzip) headers["content-encoding"] = "gzip";
  return new Request("http://collector/v1/traces", { method: "POST", body: stream, headers, duplex: "half" } as RequestInit);
}

describe("readBody", () => {
  it("reads large bodies into reused buffers, each read exactly, and never hands out a buffer still in use", async () => {
    const a = randomBytes(700_000);
    const b = randomBytes(600_000);
    const first = await readBody(request(a), 4 << 20);
    expect(first.bytes.equals(a)).toBe(true);
    // Still held: the next body gets another buffer.
    const second = await readBody(request(b), 4 << 20);
    expect(second.bytes.equals(b)).toBe(true);
    expect(first.bytes.equals(a)).toBe(true);
    const firstBuffer = first.bytes.buffer;
    first.release();
    first.release(); // twice is harmless
    const third = await readBody(request(b, { chunkBytes: 1000 }), 4 << 20);
    expect(third.bytes.buffer).toBe(firstBuffer); // reused
    expect(third.bytes.equals(b)).toBe(true);
    expect(second.bytes.equals(b)).toBe(true);
    second.release();
    third.release();
  });

  it("refuses a body past the bound, and inflates gzip (the compressed buffer goes back at once)", async () => {
    await expect(readBody(request(randomBytes(300_000), { declared: 100 }), 200_000)).rejects.toMatchObject({ code: "payload_too_large" });
    await expect(readBody(request(randomBytes(300_000)), 200_000)).rejects.toMatchObject({ code: "payload_too_large" });
    const plain = Buffer.from("x".repeat(2_000_000));
    const zipped = await readBody(request(gzipSync(plain), { gzip: true }), 4 << 20);
    expect(zipped.bytes.equals(plain)).toBe(true);
    await expect(readBody(request(randomBytes(300_000), { gzip: true }), 4 << 20)).rejects.toMatchObject({ code: "bad_request" });
  });

  it("reports a body whose stream fails (the connection closed) as aborted, and keeps a CollectorError from the stream as it is", async () => {
    const failing = (err: unknown, declared: number): Request => {
      let sent = false;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent) return controller.error(err);
          sent = true;
          controller.enqueue(new Uint8Array(1000));
        },
      });
      return new Request("http://collector/v1/traces", { method: "POST", body: stream, headers: { "content-length": String(declared) }, duplex: "half" } as RequestInit);
    };
    await expect(readBody(failing(new Error("aborted"), 500_000), 4 << 20)).rejects.toBeInstanceOf(RequestAbortedError);
    await expect(readBody(failing(new Error("aborted"), 5_000), 4 << 20)).rejects.toBeInstanceOf(RequestAbortedError);
    const overloaded = new CollectorError("overloaded", "full", { retryAfterS: 1 });
    await expect(readBody(failing(overloaded, 500_000), 4 << 20)).rejects.toBe(overloaded);
  });
});

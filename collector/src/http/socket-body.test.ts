import { createHash, randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { Readable } from "node:stream";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBody } from "../ingest/read-body.js";
import { listen, type RunningServer } from "./server.js";
import { socketBodyOf } from "./socket-body.js";

const MAX_BYTES = 2 << 20;
let server: RunningServer;

beforeAll(async () => {
  // The same route on a socket path and on another: what each read, and whether it came from the socket.
  const app = new Hono();
  for (const path of ["/socket", "/stream"]) {
    app.post(path, async (c) => {
      const fromSocket = socketBodyOf(c.req.raw) !== undefined;
      try {
        const body = await readBody(c.req.raw, MAX_BYTES);
        const answer = { fromSocket, bytes: body.bytes.length, sha: createHash("sha256").update(body.bytes).digest("hex") };
        body.release();
        return c.json(answer);
      } catch (err) {
        return c.json({ fromSocket, error: (err as { code?: string }).code ?? String(err) }, 400);
      }
    });
  }
  server = await listen(app, 0, "127.0.0.1", { socketBodyPaths: new Set(["/socket"]), limits: { maxInflightBodyBytes: 16 << 20 } });
});
afterAll(async () => {
  await server?.close();
});

/** POSTs `body` to `path`, with a Content-Length or chunked (in 64 KiB writes); the JSON answer. */
function post(path: string, body: Buffer, chunked: boolean): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${server.url}${path}`, { method: "POST", headers: chunked ? {} : { "content-length": String(body.length) } }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("end", () => resolve(JSON.parse(Buffer.concat(parts).toString("utf8")) as Record<string, unknown>));
    });
    req.on("error", reject);
    if (chunked) Readable.from((function* () { for (let i = 0; i < body.length; i += 65_536) yield body.subarray(i, i + 65_536); })()).pipe(req);
    else req.end(body);
  });
}

describe("socket bodies", () => {
  it("reads a body from the socket on a socket path, the same bytes as through the web stream elsewhere, declared or chunked", async () => {
    for (const size of [0, 1_000, 300_000, 1_500_000]) {
      const body = randomBytes(size);
      const sha = createHash("sha256").update(body).digest("hex");
      for (const chunked of [false, true]) {
        const viaSocket = await post("/socket", body, chunked);
        const viaStream = await post("/stream", body, chunked);
        expect({ size, chunked, ...viaSocket }).toEqual({ size, chunked, fromSocket: true, bytes: size, sha });
        expect({ size, chunked, ...viaStream }).toEqual({ size, chunked, fromSocket: false, bytes: size, sha });
      }
    }
  });

  it("refuses a chunked body past the bound on a socket path, and the server serves the next request", async () => {
    await post("/socket", randomBytes(MAX_BYTES + 100_000), true).then(
      (answer) => expect(answer).toMatchObject({ fromSocket: true, error: "payload_too_large" }),
      // The request is destroyed past the bound (as cancelling its stream does): the answer may not arrive.
      (err: NodeJS.ErrnoException) => expect(err.code).toMatch(/ECONNRESET|EPIPE/),
    );
    const body = randomBytes(10_000);
    expect(await post("/socket", body, true)).toMatchObject({ fromSocket: true, bytes: 10_000 });
  });
});

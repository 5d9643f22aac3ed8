import { mkdtemp, rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCollectorConfig } from "../config.js";
import { startCollector, type RunningCollector } from "../start-collector.js";
import type { AbortedRequest } from "./server.js";

// Small limits so the test is quick: 1 s for a head, 2 s for a whole request, 1 MiB of bodies in flight.
const HEADERS_TIMEOUT_MS = 1_000;
const REQUEST_TIMEOUT_MS = 2_000;
const INFLIGHT_BYTES = 1024 * 1024;
/** Generous: the deadline, Node's checking interval, and a loaded machine. */
const SLACK_MS = 6_000;

let dir: string;
let collector: RunningCollector;
let ingestKey: string;
const aborted: AbortedRequest[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-slow-clients-"));
  collector = await startCollector(
    {
      ...loadCollectorConfig({ TROUPE_DATA_DIR: dir }),
      port: 0,
      host: "127.0.0.1",
      connectionLimits: { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS, maxInflightBodyBytes: INFLIGHT_BYTES },
    },
    { onAbortedRequest: (r) => aborted.push(r) },
  );
  await collector.registry.createTenant({ id: "acme" });
  ingestKey = (await collector.registry.issueKey("acme", "ingest")).key.secret;
});

afterAll(async () => {
  await collector?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A raw connection to the collector, recording what it receives and when it closes. */
class RawClient {
  readonly socket: Socket;
  received = "";
  readonly closed: Promise<number>;
  readonly #startMs = Date.now();

  constructor() {
    this.socket = connect(collector.port, "127.0.0.1");
    this.socket.setEncoding("latin1");
    this.socket.on("data", (text: string) => (this.received += text));
    this.socket.on("error", () => undefined);
    this.closed = new Promise((resolve) => this.socket.on("close", () => resolve(Date.now() - this.#startMs)));
  }

  write(text: string): void {
    if (!this.socket.destroyed) this.socket.write(text);
  }

  /** Resolves once the received text matches `pattern`. */
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.received)) {
      if (Date.now() > deadline) throw new Error(`no ${pattern} in ${JSON.stringify(this.received)}`);
      await sleep(20);
    }
  }
}

function head(contentLength: number, extra = ""): string {
  return `POST /v1/traces HTTP/1.1\r\nHost: collector\r\nAuthorization: Bearer ${ingestKey}\r\nContent-Type: application/json\r\nContent-Length: ${contentLength}\r\n${extra}\r\n`;
}

/** A valid, empty OTLP JSON export padded with whitespace to `bytes`. */
function paddedExport(bytes: number): string {
  const json = '{"resourceSpans":[]}';
  return json + " ".repeat(bytes - json.length);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function abortedCount(): Promise<number> {
  const text = await (await fetch(`${collector.url}/metrics`)).text();
  return Number(/^troupe_collector_ingest_requests_total\{code="aborted"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(50);
  }
}

describe("slow and greedy clients", () => {
  it("disconnects a client that trickles its headers at the headers timeout, with a 408", async () => {
    const client = new RawClient();
    client.write("POST /v1/traces HTTP/1.1\r\nHost: collector\r\n");
    // One header line every 200 ms would take 30 s to finish.
    const trickle = setInterval(() => client.write(`X-Pad-${Date.now()}: x\r\n`), 200);
    try {
      const elapsedMs = await client.closed;
      expect(client.received).toMatch(/^HTTP\/1\.1 408/);
      expect(elapsedMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS * 0.9);
      expect(elapsedMs).toBeLessThan(HEADERS_TIMEOUT_MS + SLACK_MS);
    } finally {
      clearInterval(trickle);
    }
  });

  it("cuts a stalled body at the request deadline and counts and logs it as aborted", async () => {
    const before = await abortedCount();
    const client = new RawClient();
    client.write(head(1000));
    client.write("{");
    const elapsedMs = await client.closed;
    expect(client.received).toMatch(/^HTTP\/1\.1 408/);
    expect(elapsedMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS * 0.9);
    expect(elapsedMs).toBeLessThan(REQUEST_TIMEOUT_MS + SLACK_MS);
    await until(async () => (await abortedCount()) === before + 1);
    expect(aborted.some((r) => r.path === "/v1/traces" && r.declaredBytes === 1000)).toBe(true);
  });

  it("counts an upload the client abandons mid-body as aborted, not internal", async () => {
    const before = await abortedCount();
    const loggedBefore = aborted.length;
    const client = new RawClient();
    client.write(head(5000, "Expect: 100-continue\r\n"));
    await client.waitFor(/100 Continue/);
    client.write(paddedExport(5000).slice(0, 1000));
    await sleep(200);
    client.socket.destroy();
    await until(async () => (await abortedCount()) === before + 1);
    expect(aborted.length).toBe(loggedBefore + 1);
    expect(await (await fetch(`${collector.url}/metrics`)).text()).not.toMatch(/troupe_collector_ingest_requests_total\{code="internal"\}/);
  });

  it("answers 503 with Retry-After to a body past the in-flight budget while earlier ones are open, and takes it once they close", async () => {
    const bodyBytes = 700_000; // two do not fit in 1 MiB
    const holder = new RawClient();
    holder.write(head(bodyBytes, "Expect: 100-continue\r\n"));
    // 100 Continue: the request reached the server, which holds its declared bytes.
    await holder.waitFor(/100 Continue/);
    holder.write(paddedExport(bodyBytes).slice(0, 1000));

    const post = (): Promise<Response> =>
      fetch(`${collector.url}/v1/traces`, {
        method: "POST",
        headers: { authorization: `Bearer ${ingestKey}`, "content-type": "application/json" },
        body: paddedExport(bodyBytes),
      });
    const refused = await post();
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    await refused.arrayBuffer();
    // No declared length: taken as it arrives, refused once past the budget.
    const chunked = new RawClient();
    chunked.write(head(0).replace("Content-Length: 0", "Transfer-Encoding: chunked"));
    const part = paddedExport(bodyBytes);
    chunked.write(`${part.length.toString(16)}\r\n${part}\r\n`);
    await chunked.waitFor(/^HTTP\/1\.1 \d{3}/);
    expect(chunked.received).toMatch(/^HTTP\/1\.1 503/);
    expect(chunked.received).toMatch(/\r\nretry-after: \d+\r\n/i);
    chunked.socket.destroy();

    holder.socket.destroy();
    await holder.closed;
    let status = 0;
    await until(async () => {
      // The server closes a connection whose body it refused unread; fetch may have reused it.
      const res = await post().catch(() => undefined);
      await res?.arrayBuffer();
      status = res?.status ?? 0;
      return status !== 503 && status !== 0;
    });
    expect(status).toBe(200);
  });

  it("drains the rest of a body it refused mid-read, so the connection serves its next request at once", async () => {
    const bodyBytes = 700_000;
    const holder = new RawClient();
    holder.write(head(bodyBytes, "Expect: 100-continue\r\n"));
    await holder.waitFor(/100 Continue/);
    try {
      const client = new RawClient();
      client.write(head(0).replace("Content-Length: 0", "Transfer-Encoding: chunked"));
      const part = paddedExport(bodyBytes);
      client.write(`${part.length.toString(16)}\r\n${part}\r\n`);
      await client.waitFor(/^HTTP\/1\.1 503/);
      // The client finishes its body (as an exporter does, writing while the answer arrives), then asks again on the same connection.
      client.write(`${part.length.toString(16)}\r\n${part}\r\n0\r\n\r\n`);
      client.write("GET /healthz HTTP/1.1\r\nHost: collector\r\n\r\n");
      // A paused, undrained connection would instead wait out the request deadline and answer 408.
      await client.waitFor(/HTTP\/1\.1 200 OK[\s\S]*"status":"ok"/, SLACK_MS);
      expect(client.received).not.toMatch(/ 408 /);
      client.socket.destroy();
    } finally {
      holder.socket.destroy();
      await holder.closed;
    }
  });
});

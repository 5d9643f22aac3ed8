// TCP probes of the services the suite needs: one connect per port, so checking is instant.
import { connect } from "node:net";

/** Whether something accepts TCP connections on `host:port` (answers within `timeoutMs`, default 500). */
export function isListening(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (up: boolean): void => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * Resolves once `host:port` accepts connections; rejects after `timeoutMs`, or as soon as
 * `gaveUp()` returns a reason (e.g. the server process exited).
 */
export async function waitUntilListening(host: string, port: number, timeoutMs: number, gaveUp: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = gaveUp();
    if (reason !== undefined) throw new Error(reason);
    if (await isListening(host, port)) return;
    if (Date.now() > deadline) throw new Error(`nothing listened on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

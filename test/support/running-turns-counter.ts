// The running-turns counter of a test cluster: how many of a tenant's turns run at this moment across
// every worker process. The test workers' `counted` turns report +1 on entry and -1 on exit
// (runtime/src/distributed/testing/test-worker.ts); the distributed quota test checks the counts they
// saw against the tenant's quota.
import type { NatsConnection, Subscription } from "@nats-io/transport-node";

/** A running-turns counter served over NATS request/reply. */
export interface RunningTurnsCounter {
  /** The subject workers send `{ tenant, delta }` to; the reply is `{ running }`, the count after the change. */
  readonly subject: string;
  /** Stops answering. */
  stop(): void;
}

/**
 * Serves a running-turns counter for `namespace` on `nc`, until `stop()` or until `nc` closes. One
 * subscriber in one process applies every change in the order the broker delivers them, so each
 * answer is the exact count at that moment: an atomic counter shared by every worker process, on the
 * broker the suite already runs.
 */
export function serveRunningTurns(nc: NatsConnection, namespace: string): RunningTurnsCounter {
  const subject = `troupe-test.${namespace}.running`;
  const running = new Map<string, number>();
  const sub: Subscription = nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err !== null) return;
      const { tenant, delta } = msg.json<{ tenant: string; delta: number }>();
      const now = (running.get(tenant) ?? 0) + delta;
      running.set(tenant, now);
      msg.respond(JSON.stringify({ running: now }));
    },
  });
  return { subject, stop: () => sub.unsubscribe() };
}

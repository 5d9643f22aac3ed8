// `troupe cluster`: what a distributed namespace looks like on the broker now: live workers, which
// one holds each partition, and each partition's waiting, in-flight and redelivered messages.
import { table } from "../lib/admin-client.mjs";
import { ensurePackagesBuilt } from "../lib/build.mjs";
import { UsageError } from "../lib/config.mjs";

const count = (n) => (n === null ? "-" : String(n));

export async function clusterCommand(options) {
  const servers = options.nats
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (servers.length === 0) throw new UsageError("--nats needs at least one server, e.g. 127.0.0.1:4222");
  ensurePackagesBuilt();
  const { inspectCluster, InvalidArgumentError } = await import("@troupe/runtime");
  let status;
  try {
    status = await inspectCluster({ servers }, options.namespace);
  } catch (err) {
    // A namespace that is malformed or does not exist is the user's to fix (exit 2).
    if (err instanceof InvalidArgumentError) throw new UsageError(err.message);
    throw err;
  }
  if (options.json) return console.log(JSON.stringify(status, null, 2));

  const live = status.workers.length;
  console.log(
    `namespace ${status.namespace} on ${servers.join(", ")}: stream ${status.stream} (${status.storage}), ` +
      `${status.partitions} partitions, ${live} worker${live === 1 ? "" : "s"}, ${status.messages} message${status.messages === 1 ? "" : "s"} not yet acknowledged`,
  );
  if (live === 0) console.log("no live worker: messages wait in the stream until one starts");
  else {
    console.log();
    console.log(
      table(
        [
          { title: "WORKER", value: (w) => w.id },
          { title: "PARTITIONS", value: (w) => w.partitions.length, right: true },
          { title: "HELD", value: (w) => (w.partitions.length === 0 ? "(none yet)" : w.partitions.join(" ")) },
        ],
        status.workers,
      ),
    );
  }
  console.log();
  console.log(
    table(
      [
        { title: "PARTITION", value: (p) => p.partition, right: true },
        { title: "HOLDER", value: (p) => p.holder ?? "(none)" },
        { title: "WAITING", value: (p) => count(p.waiting), right: true },
        { title: "IN FLIGHT", value: (p) => count(p.inFlight), right: true },
        { title: "REDELIVERED", value: (p) => count(p.redelivered), right: true },
      ],
      status.partitionStatus,
    ),
  );
}

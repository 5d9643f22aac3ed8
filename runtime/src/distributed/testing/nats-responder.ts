// The broker's floor for the distributed benchmark: a process answering NATS requests on a subject
// with an empty reply (core NATS request/reply, no JetStream). argv[2]: servers, argv[3]: subject.
import { connect } from "@nats-io/transport-node";

const nc = await connect({ servers: process.argv[2] ?? "127.0.0.1:4222" });
const empty = new Uint8Array(0);
nc.subscribe(process.argv[3] ?? "troupe.bench.floor", {
  callback: (_err, m) => {
    m.respond(empty);
  },
});
await nc.flush();
process.send?.({ event: "ready" });
process.on("message", () => void nc.close().then(() => process.exit(0)));

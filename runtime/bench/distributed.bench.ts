// Benchmark of the distributed runtime over NATS JetStream on loopback (nats-server at 127.0.0.1:4222).
// Progress goes to stderr; the last stdout line is one flat JSON object.
// Run: node --conditions=source --import tsx --expose-gc runtime/bench/distributed.bench.ts
//
// Figures:
// - distributed_send_msgs_per_s_{1,2,4}: request/response sends (JetStream publish -> worker turn ->
//   reply -> ack) from one client process to 1, 2 and 4 worker PROCESSES, 16 partitions, file storage
//   (BENCH_STORAGE=memory: memory), `WINDOW` calls in flight, 1000 agent keys. Each turn costs
//   `TURN_CPU_MS` of CPU (a fixed amount of integer work, calibrated once on this process's CPU time
//   before any worker starts, standing in for an agent's own work), so the workers are what is
//   scaled. Measured in steady state: each run warms up until every worker process has run
//   WARMUP_TURNS turns; with an empty handler the client and the broker saturate first (see
//   distributed_send_empty_*). turn_cpu_work_per_ms reports the calibration.
// - distributed_send_empty_msgs_per_s_{1,2}: the same with a handler that returns at once: the
//   per-message cost of the path (client + broker + worker), which more workers cannot lower on 2 cores.
// - distributed_send_p99_ms_2: p99 latency with 2 workers at half the saturating rate of the 2-worker run
//   (open loop: sends issued on a fixed schedule for P99_WINDOW_MS, latency measured from the
//   scheduled time).
// - nats_request_reply_msgs_per_s: the broker's floor, core NATS request/reply to an empty responder
//   in another process, same window, same run.
// - *_ratio: the scaling figures the targets are stated in (2 workers / 1 worker, 4 workers / 1 worker).
//   The 1/2/4-worker runs are interleaved, repeated ROUNDS times, and the best of each is reported
//   (on a shared machine other work only lowers throughput).
// - distributed_cpu_us_per_msg_{client,workers,broker}_{1,2,4}: CPU per message of the sending process,
//   the worker processes together and nats-server (read from /proc) in the reported runs; the same
//   for the empty-handler run; distributed_worker_preemptions_per_msg_{2,4}: involuntary context
//   switches of the worker processes per message (/proc/<pid>/task/*/status). BENCH_PROFILE=<dir>
//   makes each worker write a V8 CPU profile there.
// - machine_load_1m_{start,end}: the 1-minute load average around the run (2 cores here): figures
//   taken under load from other processes are lower and noisier.
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { connect } from "@nats-io/transport-node";
import { AgentId, DistributedRuntime, deleteDistributedNamespace } from "@troupe/runtime";
import { openLeaseBucket, readLeases } from "@troupe/runtime/distributed";
import { calibrateCpuWork } from "../src/distributed/testing/cpu-work.js";

const NATS = "127.0.0.1:4222";
const WORKER = fileURLToPath(new URL("../src/distributed/testing/test-worker.ts", import.meta.url));
const RESPONDER = fileURLToPath(new URL("../src/distributed/testing/nats-responder.ts", import.meta.url));
const P = 16;
const WINDOW = 512;
const KEYS = 1000;
const MEASURE_MS = 4000;
// A p99 needs more samples than a throughput: ~8,000 calls at half rate (a 4 s window's p99 is its
// 32nd-worst call, and windows of the same run ranged 11–77 ms).
const P99_WINDOW_MS = 10_000;
const WARMUP_MS = 1000;
// Steady state: every worker process runs this many turns before a burn run is measured (each
// process compiles its own hot path; BENCH_WARMUP_TURNS overrides it), within WARMUP_MAX_MS.
const WARMUP_TURNS = Number(process.env.BENCH_WARMUP_TURNS ?? 5000);
const WARMUP_MAX_MS = 30_000;
const TURN_CPU_MS = 1;
// BENCH_ROUNDS overrides how many times the 1/2/4-worker runs are repeated.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

const log = (msg: string): void => void process.stderr.write(`[distributed.bench] ${msg}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (v: number, d = 1): number => Math.round(v * 10 ** d) / 10 ** d;

// BENCH_PROFILE=<dir>: every worker and responder process writes a V8 CPU profile there (NODE_OPTIONS cannot carry --cpu-prof).
const PROFILE_DIR = process.env.BENCH_PROFILE;
// BENCH_STORAGE=memory: the message stream in memory instead of the default file storage.
const STORAGE = process.env.BENCH_STORAGE ?? "file";
if (STORAGE !== "file" && STORAGE !== "memory") throw new Error(`BENCH_STORAGE must be "file" or "memory", not "${STORAGE}"`);

function startChild(script: string, args: string[]): Promise<ChildProcess> {
  const profile = PROFILE_DIR === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", PROFILE_DIR];
  const child = fork(script, args, { execArgv: ["--conditions=source", "--import", "tsx", ...profile], stdio: ["ignore", "ignore", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start`)), 30_000);
    child.on("message", (m) => {
      if ((m as { event?: string }).event === "ready") {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

let askId = 0;
/** One IPC request to a test worker (see test-worker.ts), answered by its `reply` event. */
function ask(child: ChildProcess, cmd: string): Promise<unknown> {
  const id = ++askId;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not answer "${cmd}"`)), 10_000);
    const onMessage = (m: unknown): void => {
      const e = m as { event?: string; id?: number; value?: unknown };
      if (e.event !== "reply" || e.id !== id) return;
      clearTimeout(timer);
      child.off("message", onMessage);
      resolve(e.value);
    };
    child.on("message", onMessage);
    child.send({ cmd, id });
  });
}

/** Turns handled by the least-loaded worker so far. */
async function fewestTurns(children: ChildProcess[]): Promise<number> {
  const stats = (await Promise.all(children.map((c) => ask(c, "stats")))) as Array<{ handled: number }>;
  return Math.min(...stats.map((s) => s.handled));
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.send({ cmd: "stop", id: -1 });
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Closed loop: `WINDOW` calls in flight for `ms`; returns completed calls per second. */
async function closedLoop(call: (i: number) => Promise<unknown>, ms: number): Promise<number> {
  let done = 0;
  let i = 0;
  const end = performance.now() + ms;
  const t0 = performance.now();
  const lane = async (): Promise<void> => {
    while (performance.now() < end) {
      await call(i++);
      done++;
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
  return done / ((performance.now() - t0) / 1000);
}

/** Open loop at `rate` calls/s for `ms`; latency from each call's scheduled time. Returns the p99 (ms). */
async function openLoop(call: (i: number) => Promise<unknown>, rate: number, ms: number): Promise<{ p99: number; p50: number; errors: number }> {
  const lat: number[] = [];
  const pending: Promise<void>[] = [];
  let errors = 0;
  const t0 = performance.now();
  let issued = 0;
  while (performance.now() - t0 < ms) {
    // Call k is due at k / rate seconds: it is issued at the first tick at or after that time.
    const due = Math.floor(((performance.now() - t0) / 1000) * rate) + 1;
    for (; issued < due; issued++) {
      const scheduled = t0 + (issued / rate) * 1000;
      pending.push(
        call(issued).then(
          () => void lat.push(performance.now() - scheduled),
          () => void errors++,
        ),
      );
    }
    await sleep(1);
  }
  await Promise.all(pending);
  lat.sort((a, b) => a - b);
  return { p99: lat[Math.floor(lat.length * 0.99)] ?? NaN, p50: lat[Math.floor(lat.length * 0.5)] ?? NaN, errors };
}

/** CPU time (ms) a process has used, from /proc (Linux); NaN where it cannot be read. */
function cpuMsOf(pid: number | undefined): number {
  try {
    // Fields after the ")" that ends the command name: utime and stime are the 12th and 13th, in clock ticks (100 Hz).
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/** The nats-server process on this machine, if one is visible (its CPU is the broker's share). */
function brokerPid(): number | undefined {
  try {
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      try {
        if (readFileSync(`/proc/${d}/comm`, "utf8").trim() === "nats-server") return Number(d);
      } catch {
        // exited meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}
const BROKER_PID = brokerPid();

/** Involuntary context switches (preemptions) of every thread of a process, from /proc (Linux); NaN where unreadable. */
function preemptionsOf(pid: number | undefined): number {
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      total += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8"))?.[1] ?? 0);
    }
    return total;
  } catch {
    return Number.NaN;
  }
}

/** CPU (ms) and involuntary context switches of the client (this process), the workers and the broker. */
function cpuSnapshot(children: ChildProcess[]): { client: number; workers: number; broker: number; workerPreemptions: number } {
  const u = process.cpuUsage();
  return {
    client: (u.user + u.system) / 1000,
    workers: children.reduce((sum, c) => sum + cpuMsOf(c.pid), 0),
    broker: cpuMsOf(BROKER_PID),
    workerPreemptions: children.reduce((sum, c) => sum + preemptionsOf(c.pid), 0),
  };
}

/** Microseconds of CPU per message of each role between two snapshots, and the workers' preemptions per message. */
function cpuPerMessage(a: ReturnType<typeof cpuSnapshot>, b: ReturnType<typeof cpuSnapshot>, messages: number): { client: number; workers: number; broker: number; workerPreemptions: number } {
  const per = (x: number, y: number): number => round(((y - x) * 1000) / messages, 0);
  return { client: per(a.client, b.client), workers: per(a.workers, b.workers), broker: per(a.broker, b.broker), workerPreemptions: round((b.workerPreemptions - a.workerPreemptions) / messages, 2) };
}

async function waitPlaced(ns: string, workers: number): Promise<void> {
  const nc = await connect({ servers: NATS });
  const kv = await openLeaseBucket(nc, ns);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { owners, workers: live } = await readLeases(kv);
    const perWorker = new Map<string, number>();
    for (const w of owners.values()) perWorker.set(w, (perWorker.get(w) ?? 0) + 1);
    if (owners.size === P && live.length === workers && perWorker.size === workers) break;
    if (Date.now() > deadline) throw new Error("placement did not settle");
    await sleep(100);
  }
  await nc.close();
}

type CpuSplit = ReturnType<typeof cpuPerMessage>;

async function distributed(workers: number, type: "burn" | "noop", halfRateOf?: number): Promise<{ rate: number; p99?: number; cpu: CpuSplit }> {
  const ns = `bench-${workers}-${Date.now().toString(36)}`;
  const cfg = (i: number): string => JSON.stringify({ servers: NATS, namespace: ns, workerId: `w${i}`, partitions: P, leaseTtlMs: 5000, ackWaitMs: 30_000, storage: STORAGE, maxInFlightPerPartition: 1024 });
  // The first worker creates the stream and consumers; the others join.
  const children = [await startChild(WORKER, [cfg(0)])];
  children.push(...(await Promise.all(Array.from({ length: workers - 1 }, (_, i) => startChild(WORKER, [cfg(i + 1)])))));
  await waitPlaced(ns, workers);
  const client = new DistributedRuntime({ nats: { servers: NATS }, namespace: ns, serve: false, maxPendingCalls: WINDOW * 4 });
  await client.start();
  const h = client.tenant("bench");
  const ids = Array.from({ length: KEYS }, (_, i) => new AgentId(type, `k${i}`));
  const turn = { iterations: Math.round(TURN_CPU_MS * WORK_PER_MS) };
  const call = (i: number): Promise<unknown> => h.send(ids[i % KEYS]!, turn, { timeoutMs: 30_000 });
  try {
    // A burn run warms up until every worker has run WARMUP_TURNS turns: a process that has run
    // fewer still executes part of its message path unoptimized, and with four workers each one
    // gets a quarter of the messages (measured: after one second of warm-up four workers cost
    // ~90 µs more CPU per message than two; after ~5,000 turns each, ~30 µs).
    const warmStart = performance.now();
    do await closedLoop(call, WARMUP_MS);
    while (type === "burn" && performance.now() - warmStart < WARMUP_MAX_MS && (await fewestTurns(children)) < WARMUP_TURNS);
    log(`${workers} worker(s), ${type} handler: warmed up for ${round((performance.now() - warmStart) / 1000)} s`);
    const before = cpuSnapshot(children);
    const t0 = performance.now();
    const rate = await closedLoop(call, MEASURE_MS);
    const cpu = cpuPerMessage(before, cpuSnapshot(children), (rate * (performance.now() - t0)) / 1000);
    log(`${workers} worker(s), ${type} handler: ${Math.round(rate)} sends/s; CPU per message: client ${cpu.client} µs, workers ${cpu.workers} µs, broker ${cpu.broker} µs; worker preemptions per message ${cpu.workerPreemptions}`);
    let p99: number | undefined;
    if (halfRateOf !== undefined) {
      const target = halfRateOf / 2;
      const r = await openLoop(call, target, P99_WINDOW_MS);
      p99 = r.p99;
      log(`${workers} worker(s) at ${Math.round(target)}/s (half of saturating): p50 ${round(r.p50, 2)} ms, p99 ${round(r.p99, 2)} ms, errors ${r.errors}`);
    }
    return { rate, cpu, ...(p99 === undefined ? {} : { p99 }) };
  } finally {
    await client.stop();
    await Promise.all(children.map(stopChild));
    const nc = await connect({ servers: NATS });
    await deleteDistributedNamespace(nc, ns);
    await nc.close();
  }
}

async function brokerFloor(): Promise<number> {
  const subject = `troupe.benchfloor.${Date.now().toString(36)}`;
  const responder = await startChild(RESPONDER, [NATS, subject]);
  const nc = await connect({ servers: NATS });
  try {
    const call = (): Promise<unknown> => nc.request(subject, undefined, { timeout: 30_000 });
    await closedLoop(call, WARMUP_MS);
    const rate = await closedLoop(call, MEASURE_MS);
    log(`broker floor (core request/reply, empty responder): ${Math.round(rate)} req/s`);
    return rate;
  } finally {
    await nc.close();
    await stopChild(responder);
  }
}

const loadStart = loadavg()[0]!;
const WORK_PER_MS = calibrateCpuWork();
log(`one turn's work: ${Math.round(TURN_CPU_MS * WORK_PER_MS)} rounds (${WORK_PER_MS} per ms of CPU)`);
log(`load average at start: ${loadavg().map((v) => v.toFixed(2)).join(" ")} on ${availableParallelism()} cores`);
const floor = await brokerFloor();
const empty1 = await distributed(1, "noop");
const empty2 = await distributed(2, "noop");
// The scaling runs are interleaved and repeated, and the best of each count is kept: other work on
// the machine only ever lowers a run's throughput, and a burst of it should not decide the ratio.
const best: Partial<Record<1 | 2 | 4, { rate: number; cpu: CpuSplit }>> = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const n of [1, 2, 4] as const) {
    const run = await distributed(n, "burn");
    if (run.rate > (best[n]?.rate ?? 0)) best[n] = run;
  }
}
const [one, two, four] = [best[1]!, best[2]!, best[4]!];
const twoLatency = await distributed(2, "burn", two.rate);
const loadEnd = loadavg()[0]!;
log(`load average at end: ${loadavg().map((v) => v.toFixed(2)).join(" ")}`);
const result = {
  distributed_send_msgs_per_s_1: Math.round(one.rate),
  distributed_send_msgs_per_s_2: Math.round(two.rate),
  distributed_send_msgs_per_s_4: Math.round(four.rate),
  distributed_send_p99_ms_2: round(twoLatency.p99 ?? NaN, 2),
  nats_request_reply_msgs_per_s: Math.round(floor),
  distributed_send_empty_msgs_per_s_1: Math.round(empty1.rate),
  distributed_send_empty_msgs_per_s_2: Math.round(empty2.rate),
  distributed_send_2_to_1_ratio: round(two.rate / one.rate, 2),
  distributed_send_4_to_1_ratio: round(four.rate / one.rate, 2),
  // Where each message's CPU went (µs) in the reported 1- and 2-worker runs and the empty-handler run.
  distributed_cpu_us_per_msg_client_1: one.cpu.client,
  distributed_cpu_us_per_msg_workers_1: one.cpu.workers,
  distributed_cpu_us_per_msg_broker_1: one.cpu.broker,
  distributed_cpu_us_per_msg_client_2: two.cpu.client,
  distributed_cpu_us_per_msg_workers_2: two.cpu.workers,
  distributed_cpu_us_per_msg_broker_2: two.cpu.broker,
  distributed_cpu_us_per_msg_client_4: four.cpu.client,
  distributed_cpu_us_per_msg_workers_4: four.cpu.workers,
  distributed_cpu_us_per_msg_broker_4: four.cpu.broker,
  // Involuntary context switches of the workers per message: what grows when workers outnumber cores.
  distributed_worker_preemptions_per_msg_2: two.cpu.workerPreemptions,
  distributed_worker_preemptions_per_msg_4: four.cpu.workerPreemptions,
  distributed_send_empty_cpu_us_per_msg_client_1: empty1.cpu.client,
  distributed_send_empty_cpu_us_per_msg_workers_1: empty1.cpu.workers,
  distributed_send_empty_cpu_us_per_msg_broker_1: empty1.cpu.broker,
  turn_cpu_work_per_ms: WORK_PER_MS,
  stream_storage: STORAGE,
  machine_load_1m_start: round(loadStart, 2),
  machine_load_1m_end: round(loadEnd, 2),
};
console.log(JSON.stringify(result));

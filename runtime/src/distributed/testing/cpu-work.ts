// A fixed amount of CPU work, the benchmark's stand-in for an agent's own work in a turn: integer
// arithmetic that allocates nothing, so a turn costs the same CPU whether or not its process is
// preempted (a loop on the wall clock would end early when it is, and `performance.now()` allocates
// on every call in Node 20, which would load the collector instead of the CPU). Not part of the
// library API.

let sink = 0;

/** Runs `iterations` rounds of a linear congruential step. */
export function cpuWork(iterations: number): void {
  let x = sink | 1;
  for (let i = 0; i < iterations; i++) x = (Math.imul(x, 1103515245) + 12345) | 0;
  sink = x;
}

/** Rounds of `cpuWork` per millisecond of this process's CPU time, measured over about `sampleMs` of CPU (call it on an idle core). */
export function calibrateCpuWork(sampleMs = 200): number {
  cpuWork(2_000_000); // warm up: optimized code from here on
  let iterations = 1_000_000;
  for (;;) {
    const before = process.cpuUsage();
    cpuWork(iterations);
    const used = process.cpuUsage(before);
    const ms = (used.user + used.system) / 1000;
    if (ms >= sampleMs) return Math.round(iterations / ms);
    iterations *= ms > 0 ? Math.min(10, Math.ceil(sampleMs / ms)) : 10;
  }
}

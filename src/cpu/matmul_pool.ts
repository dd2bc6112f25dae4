/**
 * Threads for the CPU backend's float32 matmul. Worker threads (`node:worker_threads`,
 * unref'd so they never keep a process alive) instantiate the same WebAssembly SIMD kernel on
 * one shared memory; a product's output panels are split among the main thread and the
 * workers, each running the identical kernel on its own panels, so the result is bitwise the
 * same with any thread count. The main thread hands out work and waits with `Atomics`, so a
 * matmul stays a synchronous call.
 *
 * Threads default to `navigator.hardwareConcurrency` (at most 8); `LOSSFORGE_CPU_THREADS=1`
 * in the environment or `setCpuThreads(1)` turns them off. Workers start in the background on
 * the first large product; until they report ready the main thread works alone.
 * @module
 */
import { Worker } from "node:worker_threads";
import { BackendError } from "../autograd/errors.ts";

/**
 * Runs output panels [g0, g1) of a batch of products: panel g is row panel g mod mP of batch
 * element ⌊g / mP⌋, whose packed A, packed B and output byte offsets are entries 3b, 3b+1,
 * 3b+2 of `table`. Shared verbatim (by its source text) with the workers, so it must not refer
 * to anything outside itself.
 */
export function runPanels(
  mm: (ap: number, bp: number, out: number, mPanels: number, k: number, nPanels: number) => void,
  table: Int32Array,
  g0: number,
  g1: number,
  mP: number,
  k: number,
  nP: number,
): void {
  let g = g0;
  while (g < g1) {
    const b = Math.floor(g / mP), i = g - b * mP;
    const count = Math.min(mP - i, g1 - g);
    mm(
      table[3 * b] + i * k * 16,
      table[3 * b + 1],
      table[3 * b + 2] + i * 4 * nP * 32,
      count,
      k,
      nP,
    );
    g += count;
  }
}

/**
 * Takes chunks of panels from the job's shared counter (`job[0]`) until none are left and
 * runs them: `job` is [next, total, chunk, mP, k, nP, table offset, batch]. Threads that are
 * descheduled (two cores shared with other work) simply take fewer chunks. Shared with the
 * workers by its source text, like `runPanels`.
 */
export function drain(
  mm: (ap: number, bp: number, out: number, mPanels: number, k: number, nPanels: number) => void,
  memory: WebAssembly.Memory,
  job: Int32Array,
): void {
  const total = job[1], chunk = job[2];
  const table = new Int32Array(memory.buffer, job[6], 3 * job[7]);
  for (;;) {
    const g = Atomics.add(job, 0, chunk);
    if (g >= total) return;
    runPanels(mm, table, g, Math.min(g + chunk, total), job[3], job[4], job[5]);
  }
}

// Control words per worker (Int32 slots of its own 64-byte line), after the job's line.
const SEQ = 0, DONE = 1, READY = 2, FAILED = 3;
const SLOTS = 16;

/** The worker's source: instantiate the kernel on the shared memory, then serve jobs. */
function workerSource(): string {
  return `
const { workerData } = require("node:worker_threads");
const { kernel, memory, ctlBuffer, index } = workerData;
const job = new Int32Array(ctlBuffer, 0, ${SLOTS});
const ctl = new Int32Array(ctlBuffer, (index + 1) * ${SLOTS * 4}, ${SLOTS});
const mm = new WebAssembly.Instance(kernel, { env: { mem: memory } }).exports.mm;
const runPanels = ${runPanels.toString()};
const drain = ${drain.toString()};
Atomics.store(ctl, ${READY}, 1);
let seen = 0;
for (;;) {
  Atomics.wait(ctl, ${SEQ}, seen);
  seen = Atomics.load(ctl, ${SEQ});
  if (seen < 0) break;
  try {
    drain(mm, memory, job);
  } catch {
    Atomics.store(ctl, ${FAILED}, 1); // reported by the main thread; this worker retires
  }
  Atomics.store(ctl, ${DONE}, seen);
  Atomics.notify(ctl, ${DONE});
}`;
}

/** The pool: worker threads sharing the kernel's memory. */
export interface MatmulPool {
  /** Threads including the caller's. */
  readonly threads: number;
  /** Workers that have started (the others are not given work yet). */
  ready(): number;
  /**
   * Runs panels [0, total) on the caller and the ready workers, which take chunks of panels
   * from a shared counter, and returns when all are done. `tab` is the byte offset of the
   * batch table in the shared memory.
   */
  run(
    mm: Parameters<typeof runPanels>[0],
    memory: WebAssembly.Memory,
    total: number,
    mP: number,
    k: number,
    nP: number,
    tab: number,
    batch: number,
  ): void;
  /** Stops the workers. */
  close(): void;
}

/**
 * Starts `threads − 1` workers for `module` on the shared `memory`; null where threads are
 * unavailable (no SharedArrayBuffer, or worker_threads missing).
 */
export function startPool(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  threads: number,
): MatmulPool | null {
  if (threads < 2 || typeof SharedArrayBuffer === "undefined") return null;
  try {
    return spawn(module, memory, threads);
  } catch {
    return null; // no worker threads here (permissions, platform): the caller works alone
  }
}

function spawn(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  threads: number,
): MatmulPool {
  const n = threads - 1;
  const ctlBuffer = new SharedArrayBuffer((n + 1) * SLOTS * 4);
  const job = new Int32Array(ctlBuffer, 0, SLOTS);
  const ctl = Array.from(
    { length: n },
    (_, i) => new Int32Array(ctlBuffer, (i + 1) * SLOTS * 4, SLOTS),
  );
  const code = workerSource();
  let broken = false;
  const workers = ctl.map((_, index) => {
    const w = new Worker(code, {
      eval: true,
      workerData: { kernel: module, memory, ctlBuffer, index },
    });
    w.on("error", () => broken = true);
    w.unref();
    return w;
  });
  let seq = 0;
  return {
    threads,
    ready() {
      if (broken) return 0;
      let r = 0;
      while (r < n && Atomics.load(ctl[r], READY) === 1 && ctl[r][FAILED] === 0) r++;
      return r;
    },
    run(mm, mem, total, mP, k, nP, tab, batch) {
      const helpers = this.ready();
      // About eight chunks a thread: small enough to rebalance, large enough to amortise.
      const chunk = Math.max(1, Math.ceil(total / (8 * (helpers + 1))));
      job.set([0, total, chunk, mP, k, nP, tab, batch]);
      seq++;
      for (let w = 0; w < helpers; w++) {
        Atomics.store(ctl[w], SEQ, seq);
        Atomics.notify(ctl[w], SEQ);
      }
      drain(mm, mem, job);
      for (let w = 0; w < helpers; w++) {
        while (Atomics.load(ctl[w], DONE) !== seq) Atomics.wait(ctl[w], DONE, ctl[w][DONE], 1000);
      }
      for (let w = 0; w < helpers; w++) {
        if (Atomics.load(ctl[w], FAILED)) {
          // Its panels may be missing: the caller redoes the product alone, and this worker
          // and the ones after it get no more work.
          throw new BackendError("matmul: a CPU matmul thread failed; retrying on one thread");
        }
      }
    },
    close() {
      for (const c of ctl) {
        Atomics.store(c, SEQ, -1);
        Atomics.notify(c, SEQ);
      }
      for (const w of workers) w.terminate();
    },
  };
}

/**
 * Matmul autotuning for the WebGPU backend: `tuneMatmul` times a few candidate kernels for each
 * product shape on the current adapter and records the fastest in a table keyed by the adapter
 * and the shape's class (dtype, transposes, and m, k, n, batch each rounded up to a power of
 * two, `./table.ts`); `matmul` consults that table before its fixed rules (`./kernels.ts`).
 * Tuning waits on the GPU, so it only ever runs when awaited, never inside a matmul; the
 * table persists as JSON through `./tuning_file.ts`.
 * @module
 */
import type { DType } from "../../autograd/dtype.ts";
import { initBackend } from "../../autograd/backend.ts";
import { BackendError, ShapeError } from "../../autograd/errors.ts";
import type { Engine, GpuBuffer } from "../engine.ts";
import type { EngineBackend } from "../backend.ts";
import { matmul, ruleChoice, TILE_DEFAULT } from "./kernels.ts";
import { BIG_BK, BIG_TILE, bigMatmulFits } from "./big.ts";
import {
  adapterId,
  classOf,
  type MatmulChoice,
  type MatmulTile,
  type MatmulTuningEntry,
  type MatmulTuningMeasure,
  type ProductShape,
  seen,
  toEntry,
  tuned,
  type TunedChoice,
} from "./table.ts";

/**
 * A product to tune: op(a) is m x k, op(b) is k x n, `batch` output matrices (default 1),
 * a or b read transposed (default false). Only float32 is tuned.
 *
 * @example
 * ```ts
 * import { type MatmulShape, setBackend, tuneMatmul } from "@lossforge/core";
 * await setBackend("webgpu");
 * const shapes: MatmulShape[] = [
 *   { m: 128, k: 96, n: 384, batch: 16 }, // x [16, 128, 96] @ w [96, 384], a linear layer
 *   { m: 1, k: 64, n: 512, batch: 32, transB: true }, // q kᵀ of one decoding step
 * ];
 * console.log((await tuneMatmul(shapes, { rounds: 1, minMs: 5 })).length); // 2
 * ```
 */
export interface MatmulShape {
  /** Rows of the result. */
  m: number;
  /** The contracted dimension. */
  k: number;
  /** Columns of the result. */
  n: number;
  /** Output matrices (default 1). */
  batch?: number;
  /** Read a as its transpose (default false). */
  transA?: boolean;
  /** Read b as its transpose (default false). */
  transB?: boolean;
  /** The dtype (only "float32", the default). */
  dtype?: DType;
}

/**
 * How `tuneMatmul` times candidates.
 *
 * @example
 * ```ts
 * import { setBackend, tuneMatmul, type TuneMatmulOptions } from "@lossforge/core";
 * await setBackend("webgpu");
 * const quick: TuneMatmulOptions = { rounds: 1, minMs: 5, log: console.log }; // rough but fast
 * await tuneMatmul([{ m: 64, k: 64, n: 64 }], quick); // one line per shape
 * ```
 */
export interface TuneMatmulOptions {
  /**
   * Interleaved rounds over the candidates; each keeps its best round (default 3: other
   * processes may share the machine).
   */
  rounds?: number;
  /**
   * The least time one measurement takes, in milliseconds (default 100): the products are
   * repeated until it is reached, since a GPU wait in Deno resolves on a polling interval of
   * about 11 ms (so a short measurement is mostly that wait).
   */
  minMs?: number;
  /** Called with one line per tuned shape (e.g. `console.log`). */
  log?: (line: string) => void;
}

/** A readable name of a kernel choice. */
function label(c: MatmulChoice): string {
  if (c.kernel === "direct") return "direct";
  if (c.kernel === "big") return `big ${BIG_TILE}x${BIG_TILE}`;
  const t = c.tile;
  return `tile ${t.bm}x${t.bn}x${t.bk}/${t.tm}x${t.tn}${t.unroll === false ? " loop" : ""}`;
}

/** Whether the device can run a tile (threads, workgroup size and memory). */
function tileFits(e: Engine, t: MatmulTile): boolean {
  const l = e.ctx.info.limits;
  const at = (name: string, dflt: number) => l[name] ?? dflt;
  const wx = t.bn / t.tn, wy = t.bm / t.tm;
  return wx * wy <= at("maxComputeInvocationsPerWorkgroup", 256) &&
    wx <= at("maxComputeWorkgroupSizeX", 256) && wy <= at("maxComputeWorkgroupSizeY", 256) &&
    t.bk * (t.bm + t.bn) * 4 <= at("maxComputeWorkgroupStorageSize", 16384);
}

/** 8x8-per-thread tiles tried (those not overhanging the class by more than 32 rows/cols). */
const BLOCK_TILES: [number, number][] = [
  [32, 32],
  [64, 64],
  [128, 128],
  [64, 128],
  [128, 64],
  [32, 128],
  [128, 32],
];

/**
 * The candidates for a product: the rule's choice first, TILE_DEFAULT, the 8x8-per-thread
 * tiles that fit, the 128x128 kernel (m, n ≥ 128, k ≥ 8, limits allowing) and the direct
 * kernel for thin outputs (m or n ≤ 16).
 */
function candidates(e: Engine, s: ProductShape): MatmulChoice[] {
  const out: MatmulChoice[] = [ruleChoice(e, s.m, s.k, s.n, s.batch)];
  const add = (c: MatmulChoice) => {
    if (!out.some((o) => label(o) === label(c))) out.push(c);
  };
  add({ kernel: "tile", tile: TILE_DEFAULT });
  const bound = (d: number) => Math.max(32, 2 ** Math.ceil(Math.log2(d)));
  for (const [bm, bn] of BLOCK_TILES) {
    const tile = { bm, bn, bk: 8, tm: 8, tn: 8 };
    if (bm <= bound(s.m) && bn <= bound(s.n) && tileFits(e, tile)) add({ kernel: "tile", tile });
  }
  if (bigMatmulFits(e) && s.m >= BIG_TILE && s.n >= BIG_TILE && s.k >= BIG_BK) {
    add({ kernel: "big" });
  }
  if (Math.min(s.m, s.n) <= 16) add({ kernel: "direct" });
  return out;
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** Deterministic values in [-1, 1) (tuning only needs finite data). */
function fill(n: number, seed: number): Float32Array {
  const v = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 31 - 1;
  }
  return v;
}

/**
 * Another kernel replaces the rule's choice only when at least 3% faster: less is within the
 * noise of a shared machine, and a flip there would gain nothing.
 */
const MARGIN = 0.97;

/** Times the candidates for one product and returns the winner with its measurements. */
async function tuneOne(
  e: Engine,
  s: ProductShape,
  rounds: number,
  minMs: number,
): Promise<TunedChoice> {
  const { m, k, n, batch, transA, transB } = s;
  const aMats = s.aShared ? 1 : batch, bMats = s.bShared ? 1 : batch;
  const a = e.upload("tuneMatmul", fill(aMats * m * k, 1));
  const b = e.upload("tuneMatmul", fill(bMats * k * n, 2));
  const spec = {
    aBatch: [aMats],
    bBatch: [bMats],
    outBatch: [batch],
    m,
    k,
    n,
    transA,
    transB,
  };
  const run = (c: MatmulChoice, reps: number) => {
    for (let i = 0; i < reps; i++) {
      const out: GpuBuffer = matmul(e, a, b, spec, "float32", c);
      e.release(out);
    }
  };
  const timed = async (c: MatmulChoice, reps: number) => {
    await e.done();
    const t0 = performance.now();
    run(c, reps);
    await e.done();
    return performance.now() - t0;
  };
  try {
    // Compile and run each candidate once; one that fails on this device is dropped (the
    // rule's choice runs in matmul anyway, so its failure is the caller's to see).
    const all = candidates(e, s);
    const cands: MatmulChoice[] = [];
    for (const c of all) {
      try {
        await timed(c, 1);
        cands.push(c);
      } catch (err) {
        if (c === all[0]) throw err;
      }
    }
    // Repetitions per measurement: doubled until the rule's choice takes minMs.
    let reps = 1;
    while (reps < 4096 && (await timed(cands[0], reps)) < minMs) reps *= 2;
    const best = cands.map(() => Infinity);
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < cands.length; i++) {
        best[i] = Math.min(best[i], (await timed(cands[i], reps)) / reps);
      }
    }
    let win = 0;
    for (let i = 1; i < cands.length; i++) {
      if (best[i] < best[win] && best[i] < best[0] * MARGIN) win = i;
    }
    const measured: MatmulTuningMeasure = {
      m,
      k,
      n,
      batch,
      ms: round4(best[win]),
      ruleMs: round4(best[0]),
      rule: label(cands[0]),
    };
    return { ...cands[win], measured };
  } finally {
    e.release(a);
    e.release(b);
  }
}

function checkShape(s: MatmulShape, at: string): ProductShape {
  if (s === null || typeof s !== "object") {
    throw new ShapeError(`tuneMatmul: ${at} must be an object {m, k, n, ...}, got ${s}`);
  }
  for (const f of ["m", "k", "n", "batch"] as const) {
    const v = s[f];
    if (f === "batch" && v === undefined) continue;
    if (!Number.isSafeInteger(v) || (v as number) < 1) {
      throw new ShapeError(`tuneMatmul: ${at}.${f} must be a positive integer, got ${v}`);
    }
  }
  for (const f of ["transA", "transB"] as const) {
    if (s[f] !== undefined && typeof s[f] !== "boolean") {
      throw new ShapeError(`tuneMatmul: ${at}.${f} must be a boolean, got ${s[f]}`);
    }
  }
  if (s.dtype !== undefined && s.dtype !== "float32") {
    throw new ShapeError(`tuneMatmul: ${at}.dtype ${s.dtype} is not tuned (float32 only)`);
  }
  return {
    m: s.m,
    k: s.k,
    n: s.n,
    batch: s.batch ?? 1,
    transA: s.transA ?? false,
    transB: s.transB ?? false,
  };
}

/**
 * Times candidate matmul kernels for each product shape on the current WebGPU adapter and
 * records the fastest for the shape's class, which every later float32 matmul of that class
 * then runs (unless `setMatmulTile` / `setBigMatmul` force a kernel). The candidates: the fixed
 * rule's choice, the 64x64 tile, 8x8-per-thread tiles from 32x32 to 128x128, the 128x128
 * kernel (m, n ≥ 128, k ≥ 8) and the direct kernel (m or n ≤ 16); each is timed in
 * interleaved rounds, best round kept, and replaces the rule's choice only when at least 3%
 * faster. Without `shapes`, tunes every float32 shape class that has run since start-up and
 * has no entry yet (its first product, with the same broadcast of a or b). Returns the new
 * entries. It waits on the GPU: await it between training runs, never inside a step.
 *
 * @example
 * ```ts
 * import { matmul, randn, setBackend, tuneMatmul } from "@lossforge/core";
 * await setBackend("webgpu");
 * const x = randn([16, 128, 96]), w = randn([96, 384]);
 * matmul(x, w).dispose(); // one step of training: shapes are recorded
 * const entries = await tuneMatmul(); // tunes the classes seen so far
 * for (const e of entries) console.log(e.m, e.k, e.n, e.kernel, e.measured?.ms);
 * await tuneMatmul([{ m: 1, k: 64, n: 512, batch: 32, transB: true }], { rounds: 2 });
 * ```
 */
export async function tuneMatmul(
  shapes?: MatmulShape[],
  opts: TuneMatmulOptions = {},
): Promise<MatmulTuningEntry[]> {
  const rounds = opts.rounds ?? 3, minMs = opts.minMs ?? 100;
  if (!Number.isSafeInteger(rounds) || rounds < 1) {
    throw new RangeError(`tuneMatmul: rounds must be a positive integer, got ${rounds}`);
  }
  if (!(minMs >= 0 && minMs <= 60_000)) {
    throw new RangeError(`tuneMatmul: minMs must be in [0, 60000], got ${minMs}`);
  }
  if (shapes !== undefined && !Array.isArray(shapes)) {
    throw new ShapeError(`tuneMatmul: shapes must be an array, got ${shapes}`);
  }
  const todo = shapes?.map((s, i) => checkShape(s, `shapes[${i}]`));
  let gpu: EngineBackend;
  try {
    gpu = (await initBackend("webgpu")) as EngineBackend;
  } catch (err) {
    throw new BackendError(`tuneMatmul: no WebGPU device: ${(err as Error).message}`);
  }
  const e = gpu.engine;
  const id = adapterId(e.ctx.info);
  let table = tuned.get(id);
  if (!table) tuned.set(id, table = new Map());
  const work = new Map<number, ProductShape>();
  if (todo) {
    for (const s of todo) work.set(classOf(s.m, s.k, s.n, s.batch, s.transA, s.transB), s);
  } else {
    for (const [cls, s] of seen.get(id) ?? []) if (!table.has(cls)) work.set(cls, s);
  }
  const made: MatmulTuningEntry[] = [];
  for (const [cls, s] of work) {
    const c = await tuneOne(e, s, rounds, minMs);
    table.set(cls, c);
    const entry = toEntry(id, cls, c);
    made.push(entry);
    if (opts.log) {
      const t = c.measured!;
      opts.log(
        `tuneMatmul ${s.batch}x${s.m}x${s.k}x${s.n} ${s.transA ? "T" : "N"}${
          s.transB ? "T" : "N"
        }: ${label(c)} ${t.ms.toFixed(3)} ms (rule ${t.rule} ${t.ruleMs.toFixed(3)} ms)`,
      );
    }
  }
  return made;
}

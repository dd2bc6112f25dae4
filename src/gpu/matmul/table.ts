/**
 * The table of tuned matmul kernels (filled by `tuneMatmul` in `./tune.ts`, read by `matmul`
 * in `./kernels.ts`, saved and loaded by `./tuning_file.ts`), the record of the product shapes
 * that have run, and the words both speak: a tile, a kernel choice, a table entry.
 *
 * A product belongs to a shape class: its dtype, transpose flags, and m, k, n and batch each
 * rounded up to a power of two. The class is packed into one integer so that looking it up
 * (every matmul) allocates nothing; a class's first product is remembered (one Map entry the
 * first time it is seen) so that `tuneMatmul()` can time that shape later. Entries belong to an
 * adapter (`adapterId`): a table loaded on another machine is kept but never consulted there.
 * @module
 */
import type { GpuInfo } from "../device.ts";

/**
 * A matmul tile: BM x BN outputs per workgroup, TM x TN per thread, depth BK per stage
 * (`bm / tm` by `bn / tn` threads per workgroup). Tuned tables (`tuneMatmul`) record the tile
 * they chose in this form.
 *
 * @example
 * ```ts
 * import { matmulTuning, type MatmulTile } from "@lossforge/core";
 * const threads = (t: MatmulTile) => (t.bm / t.tm) * (t.bn / t.tn);
 * console.log(threads({ bm: 64, bn: 64, bk: 8, tm: 8, tn: 8 })); // 64 threads per workgroup
 * for (const e of matmulTuning()) if (e.tile) console.log(e.m, e.k, e.n, threads(e.tile));
 * ```
 */
export interface MatmulTile {
  /** Rows of the output tile. */
  bm: number;
  /** Columns of the output tile. */
  bn: number;
  /** Depth of a stage. */
  bk: number;
  /** Rows per thread (a multiple of 4). */
  tm: number;
  /** Columns per thread (a multiple of 4). */
  tn: number;
  /** Unroll the depth loop (default true). */
  unroll?: boolean;
}

/** Which kernel a product runs: a generated tile, the 128x128 kernel, or the direct kernel. */
export type MatmulChoice =
  | { kernel: "tile"; tile: MatmulTile }
  | { kernel: "big" }
  | { kernel: "direct" };

/** A product shape as `matmul` sees it (batch counts output matrices). */
export interface ProductShape {
  m: number;
  k: number;
  n: number;
  batch: number;
  transA: boolean;
  transB: boolean;
  /** Whether one matrix of a (or b) serves every batch (a broadcast operand), when recorded. */
  aShared?: boolean;
  bShared?: boolean;
}

/** Dtypes with a class code (only float32 is tuned and recorded). */
const DTYPE_CODE = { float32: 1 } as const;

/** The exponent of the power of two that `x` (≥ 1) rounds up to. */
export function log2Ceil(x: number): number {
  if (x <= 1) return 0;
  return x <= 2 ** 32 ? 32 - Math.clz32(x - 1) : Math.min(63, Math.ceil(Math.log2(x)));
}

/** The class of a float32 product, packed: 6 bits per size exponent, then flags and dtype. */
export function classOf(
  m: number,
  k: number,
  n: number,
  batch: number,
  transA: boolean,
  transB: boolean,
): number {
  return log2Ceil(m) | (log2Ceil(k) << 6) | (log2Ceil(n) << 12) | (log2Ceil(batch) << 18) |
    (transA ? 1 << 24 : 0) | (transB ? 1 << 25 : 0) | (DTYPE_CODE.float32 << 26);
}

/** The bounds of a class: each size is the power of two its members round up to. */
export function classBounds(cls: number): ProductShape {
  return {
    m: 2 ** (cls & 63),
    k: 2 ** ((cls >> 6) & 63),
    n: 2 ** ((cls >> 12) & 63),
    batch: 2 ** ((cls >> 18) & 63),
    transA: (cls & (1 << 24)) !== 0,
    transB: (cls & (1 << 25)) !== 0,
  };
}

/**
 * What `tuneMatmul` measured for a shape class: the product it timed (m, k, n, batch), the
 * winner's and the rule's best time per product in milliseconds, and the rule's choice.
 *
 * @example
 * ```ts
 * import { type MatmulTuningMeasure, setBackend, tuneMatmul } from "@lossforge/core";
 * await setBackend("webgpu");
 * const gain = (t: MatmulTuningMeasure) => `${(t.ruleMs / t.ms).toFixed(2)}x the rule's ${t.rule}`;
 * const [entry] = await tuneMatmul([{ m: 64, k: 64, n: 64 }], { rounds: 1, minMs: 5 });
 * if (entry?.measured) console.log(entry.kernel, gain(entry.measured)); // e.g. tile 1.00x ...
 * ```
 */
export interface MatmulTuningMeasure {
  /** Rows of the product timed. */
  m: number;
  /** Its contracted dimension. */
  k: number;
  /** Its columns. */
  n: number;
  /** Its output matrices. */
  batch: number;
  /** The chosen kernel's best time per product, in milliseconds. */
  ms: number;
  /** The rule's choice's best time per product, in milliseconds (same run). */
  ruleMs: number;
  /** The rule's choice, e.g. "tile 64x64x16/4x4", "big 128x128" or "direct". */
  rule: string;
}

/** A tuned choice with what was measured for it (absent for entries written by hand). */
export type TunedChoice = MatmulChoice & { measured?: MatmulTuningMeasure };

/** Tuned choices per adapter identity, then per class. */
export const tuned: Map<string, Map<number, TunedChoice>> = new Map();

/** The first product of every float32 class that has run since start-up, per adapter. */
export const seen: Map<string, Map<number, ProductShape>> = new Map();

const ids = new WeakMap<GpuInfo, string>();

/**
 * The identity of an adapter for the table: vendor, architecture and description (a driver's
 * description names its version, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"), and whether it is a
 * fallback adapter.
 */
export function adapterId(info: GpuInfo): string {
  let id = ids.get(info);
  if (id === undefined) {
    id = [info.vendor, info.architecture, info.description].map((s) => s.trim()).join(" | ") +
      (info.isFallbackAdapter ? " | fallback" : "");
    ids.set(info, id);
  }
  return id;
}

/**
 * The tuned choice for a float32 product on the adapter `info`, or undefined; records the
 * product's class as seen (with whether a or b, batch dims `aMatrices` / `bMatrices`, is
 * broadcast over the batch). Allocates only the first time a class (or adapter) is seen.
 */
export function lookupTuned(
  info: GpuInfo,
  m: number,
  k: number,
  n: number,
  batch: number,
  transA: boolean,
  transB: boolean,
  aMatrices: readonly number[],
  bMatrices: readonly number[],
): TunedChoice | undefined {
  const id = adapterId(info);
  const cls = classOf(m, k, n, batch, transA, transB);
  let s = seen.get(id);
  if (!s) seen.set(id, s = new Map());
  if (!s.has(cls)) {
    const aShared = batch > 1 && aMatrices.every((d) => d === 1);
    const bShared = batch > 1 && bMatrices.every((d) => d === 1);
    s.set(cls, { m, k, n, batch, transA, transB, aShared, bShared });
  }
  return tuned.get(id)?.get(cls);
}

/**
 * One entry of the tuned table: an adapter, a shape class and the kernel its products run.
 * A product belongs to the class when its m lies in (m/2, m] (1 for m = 1), and likewise
 * for k, n and batch. `kernel` is "tile" (with `tile`: a generated tile kernel), "big" (the
 * 128x128 kernel) or "direct" (one thread per output).
 *
 * @example
 * ```ts
 * import { matmulTuning, type MatmulTuningEntry } from "@lossforge/core";
 * const describe = (e: MatmulTuningEntry) => `${e.m}x${e.k}x${e.n} (${e.batch}): ${e.kernel}`;
 * console.log(matmulTuning().map(describe)); // [] until tuneMatmul or loadMatmulTuning fills it
 * ```
 */
export interface MatmulTuningEntry {
  /** The adapter identity (vendor | architecture | description, "| fallback" when one). */
  adapter: string;
  /** The dtype (float32). */
  dtype: "float32";
  /** a read transposed. */
  transA: boolean;
  /** b read transposed. */
  transB: boolean;
  /** The class's bound on m (a power of two). */
  m: number;
  /** The class's bound on k (a power of two). */
  k: number;
  /** The class's bound on n (a power of two). */
  n: number;
  /** The class's bound on the output matrices (a power of two). */
  batch: number;
  /** The kernel. */
  kernel: "tile" | "big" | "direct";
  /** The tile, when `kernel` is "tile". */
  tile?: MatmulTile;
  /** What tuning measured (absent in entries written by hand). */
  measured?: MatmulTuningMeasure;
}

/** The public form of the table's entry for class `cls` of adapter `adapter`. */
export function toEntry(adapter: string, cls: number, c: TunedChoice): MatmulTuningEntry {
  const b = classBounds(cls);
  const entry: MatmulTuningEntry = {
    adapter,
    dtype: "float32",
    transA: b.transA,
    transB: b.transB,
    m: b.m,
    k: b.k,
    n: b.n,
    batch: b.batch,
    kernel: c.kernel,
  };
  if (c.kernel === "tile") entry.tile = { ...c.tile };
  if (c.measured) entry.measured = { ...c.measured };
  return entry;
}

/**
 * Every entry of the tuned matmul table (for all adapters: entries loaded for another one are
 * kept but not consulted).
 *
 * @example
 * ```ts
 * import { matmulTuning, setBackend, tuneMatmul } from "@lossforge/core";
 * await setBackend("webgpu");
 * await tuneMatmul([{ m: 64, k: 64, n: 64 }], { rounds: 1, minMs: 5 });
 * console.log(matmulTuning().length); // 1
 * ```
 */
export function matmulTuning(): MatmulTuningEntry[] {
  const out: MatmulTuningEntry[] = [];
  for (const [id, table] of tuned) for (const [cls, c] of table) out.push(toEntry(id, cls, c));
  return out;
}

/**
 * Empties the tuned matmul table: every matmul follows the fixed rules again. Shapes seen
 * since start-up stay recorded for a later `tuneMatmul()`.
 *
 * @example
 * ```ts
 * import { clearMatmulTuning, matmulTuning } from "@lossforge/core";
 * clearMatmulTuning(); // e.g. to time the fixed rules against a loaded table
 * console.log(matmulTuning().length); // 0
 * ```
 */
export function clearMatmulTuning(): void {
  tuned.clear();
}

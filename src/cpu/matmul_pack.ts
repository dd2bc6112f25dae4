/**
 * The CPU backend's float32 matmul through the WebAssembly SIMD kernel (`simd_matmul.ts`):
 * the operands packed into panels in the module's memory, the batch laid out there, the
 * panels run (on the worker threads of `matmul_pool.ts` when the product is large), and the
 * results copied out. Every product is summed in the kernel's fixed order, so the result is
 * the same with any thread count.
 *
 * @module
 */
import type { HalfDType, TypedArray } from "../autograd/dtype.ts";
import { f16Table } from "../autograd/half.ts";
import { runPanels } from "./matmul_pool.ts";
import type { SimdMatmul } from "./simd_matmul.ts";

type Buf = TypedArray;

/** Zeroes the rows a panel of `w` rows has beyond the operand's `rows` (the last panel's tail). */
function zeroPadRows(dst: Float32Array, rows: number, k: number, w: number, at: number): void {
  const padded = Math.ceil(rows / w) * w;
  for (let r = rows; r < padded; r++) {
    const base = at + Math.floor(r / w) * k * w + (r % w);
    for (let p = 0; p < k; p++) dst[base + p * w] = 0;
  }
}

/**
 * dst[at + ⌊r/w⌋·w·k + p·w + r mod w] = src[off + r·rs + p·ps] for r < rows, p < k (panels of
 * w rows), and zeros for the padding rows; the loop walks whichever source axis is contiguous.
 */
function packPanels(
  dst: Float32Array,
  src: Buf,
  off: number,
  rows: number,
  k: number,
  rs: number,
  ps: number,
  w: number,
  at: number,
): void {
  zeroPadRows(dst, rows, k, w, at);
  const pos = (r: number) => at + Math.floor(r / w) * k * w + (r % w);
  if (rs === 1) {
    // Rows contiguous: walk r fastest.
    for (let p = 0; p < k; p++) {
      const s0 = off + p * ps, d0 = at + p * w;
      for (let r = 0; r < rows; r++) {
        dst[d0 + Math.floor(r / w) * k * w + (r % w)] = src[s0 + r];
      }
    }
  } else {
    for (let r = 0; r < rows; r++) {
      const base = pos(r), s0 = off + r * rs;
      for (let p = 0; p < k; p++) dst[base + p * w] = src[s0 + p * ps];
    }
  }
}

/**
 * packPanels for an operand held as half-precision bits: each element widened to float32 as
 * it is packed (exact: bfloat16 bits are float32's upper half, and f16 values are float32
 * values), so the packed panels, and the product, equal those of the operand cast to float32,
 * and no float32 copy of the operand exists outside the kernel's panels.
 */
function packHalfPanels(
  dst: Float32Array,
  src: Uint16Array,
  dtype: HalfDType,
  off: number,
  rows: number,
  k: number,
  rs: number,
  ps: number,
  w: number,
  at: number,
): void {
  zeroPadRows(dst, rows, k, w, at);
  const pos = (r: number) => at + Math.floor(r / w) * k * w + (r % w);
  // bfloat16 bits go to the high half of the float32's bits; f16 values through a table.
  const bits = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  const t = f16Table(), bf = dtype === "bfloat16";
  if (rs === 1) {
    // Rows contiguous (b not transposed): walk r fastest.
    for (let p = 0; p < k; p++) {
      const s0 = off + p * ps, d0 = at + p * w;
      for (let r = 0; r < rows; r++) {
        const d = d0 + Math.floor(r / w) * k * w + (r % w);
        if (bf) bits[d] = src[s0 + r] << 16;
        else dst[d] = t[src[s0 + r]];
      }
    }
  } else {
    for (let r = 0; r < rows; r++) {
      const base = pos(r), s0 = off + r * rs;
      if (bf) { for (let p = 0; p < k; p++) bits[base + p * w] = src[s0 + p * ps] << 16; }
      else for (let p = 0; p < k; p++) dst[base + p * w] = t[src[s0 + p * ps]];
    }
  }
}

/**
 * Sizes of the SIMD matmul's work (tests lower them to exercise grouping and threads on small
 * products).
 */
export const simdMatmulLimits = {
  /**
   * Batches of at least this many multiply-adds are split among threads (a hand-off costs
   * 0.05-0.2 ms; 2²² multiply-adds take about 0.4 ms on one core).
   */
  threadedMinMacs: 1 << 22,
  /** Packed operands and outputs of one group of batch elements stay under this many bytes. */
  groupBytes: 256 << 20,
};

/**
 * A batch of float32 products through the WebAssembly SIMD kernel: op(a) packed in 4-row
 * panels and op(b) in 8-column panels into the module's memory (an operand shared by
 * consecutive batch elements, as broadcasting gives, is packed once), then every output row
 * panel of every element run by `runPanels`, split among threads when the pool is up and the
 * work is large, and the valid blocks copied out. `aOffs[i]`, `bOffs[i]`: element offsets of
 * batch element i's operands.
 */
export function matmulSimd(
  sm: SimdMatmul,
  out: Buf,
  a: Buf,
  b: Buf,
  aOffs: number[],
  bOffs: number[],
  m: number,
  k: number,
  n: number,
  transA: boolean,
  transB: boolean,
  aHalf?: HalfDType,
  bHalf?: HalfDType,
): void {
  const mP = Math.ceil(m / 4), nP = Math.ceil(n / 8);
  const pack = (
    src: Buf,
    half: HalfDType | undefined,
    off: number,
    rows: number,
    rs: number,
    ps: number,
    w: number,
    to: number,
    f: Float32Array,
  ) =>
    half
      ? packHalfPanels(f, src as Uint16Array, half, off, rows, k, rs, ps, w, to)
      : packPanels(f, src, off, rows, k, rs, ps, w, to);
  const apBytes = mP * k * 16, bpBytes = nP * k * 32, rowFloats = nP * 8;
  const outBytes = mP * 4 * rowFloats * 4;
  const batch = aOffs.length;
  const per = apBytes + bpBytes + outBytes + 12;
  const group = Math.max(1, Math.min(batch, Math.floor(simdMatmulLimits.groupBytes / per)));
  const pool = m * n * k * batch >= simdMatmulLimits.threadedMinMacs ? sm.pool() : null;
  for (let g0 = 0; g0 < batch; g0 += group) {
    const g1 = Math.min(batch, g0 + group), count = g1 - g0;
    // Layout: packed operands (each new one), then outputs, then the batch table.
    const table = new Int32Array(3 * count);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const bi = g0 + i;
      const newA = i === 0 || aOffs[bi] !== aOffs[bi - 1];
      const newB = i === 0 || bOffs[bi] !== bOffs[bi - 1];
      table[3 * i] = newA ? (at += apBytes) - apBytes : table[3 * i - 3];
      table[3 * i + 1] = newB ? (at += bpBytes) - bpBytes : table[3 * i - 2];
    }
    for (let i = 0; i < count; i++) table[3 * i + 2] = (at += outBytes) - outBytes;
    const tab = at;
    sm.ensure(tab + table.byteLength);
    const f = new Float32Array(sm.memory.buffer);
    new Int32Array(sm.memory.buffer, tab, table.length).set(table);
    // Pack each operand where the layout gave it a place of its own.
    for (let i = 0; i < count; i++) {
      const bi = g0 + i;
      if (i === 0 || table[3 * i] !== table[3 * i - 3]) {
        pack(a, aHalf, aOffs[bi], m, transA ? 1 : k, transA ? m : 1, 4, table[3 * i] / 4, f);
      }
      if (i === 0 || table[3 * i + 1] !== table[3 * i - 2]) {
        pack(b, bHalf, bOffs[bi], n, transB ? k : 1, transB ? 1 : n, 8, table[3 * i + 1] / 4, f);
      }
    }
    let alone = !pool || pool.ready() === 0;
    if (!alone) {
      try {
        pool!.run(sm.mm, sm.memory, count * mP, mP, k, nP, tab, count);
      } catch {
        alone = true; // a worker failed: its panels may be missing (the pool retires it)
      }
    }
    if (alone) runPanels(sm.mm, table, 0, count * mP, mP, k, nP);
    for (let i = 0; i < count; i++) {
      const o = table[3 * i + 2] / 4, dst = (g0 + i) * m * n;
      // Rows without padding (n a multiple of 8) are one block; else row by row.
      if (rowFloats === n) out.set(f.subarray(o, o + m * n), dst);
      else {
        for (let r = 0; r < m; r++) {
          out.set(f.subarray(o + r * rowFloats, o + r * rowFloats + n), dst + r * n);
        }
      }
    }
  }
}

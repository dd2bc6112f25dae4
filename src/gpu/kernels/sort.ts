/**
 * Stable argsort along the last axis by bitonic sort on (key, index) pairs. Values map to
 * u32 keys whose unsigned order is the value order (NaN largest, -0 equal to +0); descending
 * flips the key bits. Ties are broken by the original index, which makes the order total,
 * so the (unstable) bitonic network yields exactly the stable permutation. Rows are padded
 * to a power of two with pairs that sort after every real one. Rows of up to 2048 sort in
 * workgroup memory in one dispatch; longer rows run one dispatch per network stage.
 *
 * On a software adapter (a CPU running the shader, where barriers and passes over memory are
 * what cost) rows instead sort one per thread by a bottom-up merge sort, with no barrier:
 * stable on the keys, which gives the same permutation. Its trip counts depend only on the
 * row length, so the SIMD lanes (rows) never diverge; keys and indices travel as one vec2 per
 * element, in windows of rows when the scratch exceeds the binding limit.
 * @module
 */
import type { DType } from "../../autograd/dtype.ts";
import { sizeOf } from "../../autograd/shape.ts";
import type { Engine, GpuBuffer } from "../engine.ts";
import { kernelWgsl, params, softwareKernels, WG, wgslType } from "./common.ts";

const LOCAL_MAX = 2048;

function keyWgsl(t: "f32" | "i32", descending: boolean): string {
  const flip = descending ? "~" : "";
  return t === "f32"
    ? `fn key_of(v: f32) -> u32 {
  var b = bitcast<u32>(v);
  if ((b & 0x7fffffffu) > 0x7f800000u) { return ${flip}0xffffffffu; }
  if ((b & 0x7fffffffu) == 0u) { b = 0u; }
  return ${flip}select(b | 0x80000000u, ~b, (b >> 31u) != 0u);
}`
    : `fn key_of(v: i32) -> u32 { return ${flip}(bitcast<u32>(v) ^ 0x80000000u); }`;
}

const GREATER = `fn greater(ka: u32, ia: u32, kb: u32, ib: u32) -> bool {
  return ka > kb || (ka == kb && ia > ib);
}`;

/** Stable argsort (int32) along the last axis. */
export function argsort(
  e: Engine,
  a: GpuBuffer,
  shape: readonly number[],
  descending: boolean,
  dtype: DType,
): GpuBuffer {
  const t = wgslType("argsort", dtype);
  const n = sizeOf(shape);
  const out = e.alloc("argsort", n * 4);
  if (n === 0) return out;
  const len = shape.length ? shape[shape.length - 1] : 1;
  const rows = n / len;
  const pow2 = 2 ** Math.ceil(Math.log2(Math.max(len, 2)));
  const dir = descending ? "desc" : "asc";
  const x = ["x", t] as const;
  if (softwareKernels(e) && rows >= SERIAL_MIN_ROWS && len > 1) {
    mergeSortRows(e, a, out, rows, len, t, descending);
    return out;
  }
  if (pow2 <= LOCAL_MAX) {
    const threads = Math.min(WG, pow2 / 2);
    const k = e.kernel(
      `argsort_local_${t}_${dir}_${pow2}`,
      () =>
        kernelWgsl({
          inputs: [x],
          outputs: [["o", "i32"]],
          helpers: `${keyWgsl(t, descending)}
${GREATER}
const NP = ${pow2}u;
var<workgroup> keys: array<u32, ${pow2}>;
var<workgroup> ids: array<u32, ${pow2}>;`,
          grid: "row",
          threads,
          body: `let len = P(1);
  for (var e = lid; e < NP; e += ${threads}u) {
    if (e < len) { keys[e] = key_of(x[row * len + e]); ids[e] = e; }
    else { keys[e] = 0xffffffffu; ids[e] = 0xffffffffu; }
  }
  workgroupBarrier();
  for (var k = 2u; k <= NP; k <<= 1u) {
    for (var j = k >> 1u; j > 0u; j >>= 1u) {
      for (var t = lid; t < NP / 2u; t += ${threads}u) {
        let i = (t / j) * 2u * j + (t % j);
        let l = i + j;
        let up = (i & k) == 0u;
        let ka = keys[i]; let ia = ids[i]; let kb = keys[l]; let ib = ids[l];
        if (greater(ka, ia, kb, ib) == up) {
          keys[i] = kb; ids[i] = ib; keys[l] = ka; ids[l] = ia;
        }
      }
      workgroupBarrier();
    }
  }
  for (var e = lid; e < len; e += ${threads}u) { o[row * len + e] = i32(ids[e]); }`,
        }),
      1,
      1,
    );
    const p = params();
    p[0] = rows;
    p[1] = len;
    e.dispatch("argsort", k, [a], [out], p, rows);
    return out;
  }
  // Global network: keys and ids live in scratch buffers; one dispatch per (k, j) stage.
  const total = rows * pow2;
  const keys = e.alloc("argsort", total * 4), ids = e.alloc("argsort", total * 4);
  const init = e.kernel(
    `argsort_init_${t}_${dir}`,
    () =>
      kernelWgsl({
        inputs: [x],
        outputs: [["keys", "u32"], ["ids", "u32"]],
        helpers: keyWgsl(t, descending),
        body: `let np = P(2); let len = P(1);
  let row = i / np; let e = i - row * np;
  if (e < len) { keys[i] = key_of(x[row * len + e]); ids[i] = e; }
  else { keys[i] = 0xffffffffu; ids[i] = 0xffffffffu; }`,
      }),
    1,
    2,
  );
  const p = params();
  p[0] = total;
  p[1] = len;
  p[2] = pow2;
  e.dispatch("argsort", init, [a], [keys, ids], p, Math.ceil(total / WG));
  const stage = e.kernel(
    "argsort_stage",
    () =>
      kernelWgsl({
        inputs: [],
        outputs: [["keys", "u32"], ["ids", "u32"]],
        helpers: GREATER,
        body: `let half = P(1); let k = P(2); let j = P(3);
  let row = i / half; let t = i - row * half;
  let base = row * 2u * half;
  let il = (t / j) * 2u * j + (t % j);
  let a = base + il; let b = a + j;
  let up = (il & k) == 0u;
  let ka = keys[a]; let ia = ids[a]; let kb = keys[b]; let ib = ids[b];
  if (greater(ka, ia, kb, ib) == up) { keys[a] = kb; ids[a] = ib; keys[b] = ka; ids[b] = ia; }`,
      }),
    0,
    2,
  );
  const pairs = rows * pow2 / 2;
  for (let k = 2; k <= pow2; k *= 2) {
    for (let j = k >> 1; j > 0; j >>= 1) {
      const q = params();
      q[0] = pairs;
      q[1] = pow2 / 2;
      q[2] = k;
      q[3] = j;
      e.dispatch("argsort", stage, [], [keys, ids], q, Math.ceil(pairs / WG));
    }
  }
  const fin = e.kernel(
    "argsort_write",
    () =>
      kernelWgsl({
        inputs: [["ids", "u32"]],
        outputs: [["o", "i32"]],
        body: `let len = P(1);
  let row = i / len;
  o[i] = i32(ids[row * P(2) + (i - row * len)]);`,
      }),
    1,
    1,
  );
  e.dispatch("argsort", fin, [ids], [out], p.map((v, i) => (i === 0 ? n : v)), Math.ceil(n / WG));
  e.release(keys);
  e.release(ids);
  return out;
}

/** Rows from which a software adapter sorts one row per thread (enough rows to fill the cores). */
const SERIAL_MIN_ROWS = 4;
/** Threads (rows) per workgroup of the per-row merge sort. */
const SERIAL_WG = 32;

/** The WGSL of one merge pass from scratch `src` to `dst` (both `array<vec2<u32>>`). */
function mergePass(name: string, src: string, dst: string): string {
  return `fn ${name}(base: u32, len: u32, width: u32) {
  for (var lo = 0u; lo < len; lo += 2u * width) {
    let mid = min(lo + width, len);
    let hi = min(lo + 2u * width, len);
    var i = lo;
    var j = mid;
    var va = ${src}[base + i];
    var vb = ${src}[base + min(j, len - 1u)];
    for (var k = lo; k < hi; k++) {
      // Left on ties: stable, so equal keys keep their index order.
      if (i < mid && (j >= hi || va.x <= vb.x)) {
        ${dst}[base + k] = va;
        i++;
        if (i < mid) { va = ${src}[base + i]; }
      } else {
        ${dst}[base + k] = vb;
        j++;
        if (j < hi) { vb = ${src}[base + j]; }
      }
    }
  }
}`;
}

/** Sorts each row in one thread by bottom-up merge sort (software adapters); writes `out`. */
function mergeSortRows(
  e: Engine,
  a: GpuBuffer,
  out: GpuBuffer,
  rows: number,
  len: number,
  t: "f32" | "i32",
  descending: boolean,
): void {
  const dir = descending ? "desc" : "asc";
  const k = e.kernel(
    `argsort_merge_${t}_${dir}`,
    () =>
      kernelWgsl({
        inputs: [["x", t]],
        outputs: [["sa", "vec2<u32>"], ["sb", "vec2<u32>"], ["o", "i32"]],
        helpers: `${keyWgsl(t, descending)}
${mergePass("merge_ab", "sa", "sb")}
${mergePass("merge_ba", "sb", "sa")}`,
        grid: "serialRow",
        threads: SERIAL_WG,
        body: `let len = P(1);
  let base = row * len;
  for (var e = 0u; e < len; e++) { sa[base + e] = vec2<u32>(key_of(x[base + e]), e); }
  var in_a = true;
  for (var width = 1u; width < len; width *= 2u) {
    if (in_a) { merge_ab(base, len, width); } else { merge_ba(base, len, width); }
    in_a = !in_a;
  }
  if (in_a) {
    for (var e = 0u; e < len; e++) { o[base + e] = i32(sa[base + e].y); }
  } else {
    for (var e = 0u; e < len; e++) { o[base + e] = i32(sb[base + e].y); }
  }`,
      }),
    1,
    3,
  );
  const total = rows * len;
  const sa = e.alloc("argsort", total * 8), sb = e.alloc("argsort", total * 8);
  const chunkParams = (_row0: number, rn: number) => {
    const p = params();
    p[0] = rn;
    p[1] = len;
    return p;
  };
  // Rows in chunks whose scratch windows fit one binding.
  const rowBytes = [len * 4, len * 8, len * 8, len * 4];
  e.dispatchRows(
    "argsort",
    k,
    [a],
    [sa, sb, out],
    rowBytes,
    rows,
    chunkParams,
    (rn) => Math.ceil(rn / SERIAL_WG),
  );
  e.release(sa);
  e.release(sb);
}

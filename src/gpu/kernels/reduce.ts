/**
 * Reductions over any set of axes, and argmax. Short reductions run one thread per output
 * (a serial loop); long ones run one workgroup per output, each thread folding a strided
 * share and a tree in workgroup memory combining the shares.
 * @module
 */
import type { ReduceOp } from "../../autograd/backend.ts";
import type { DType } from "../../autograd/dtype.ts";
import { sizeOf, stridesOf } from "../../autograd/shape.ts";
import type { Engine, GpuBuffer } from "../engine.ts";
import {
  AXIS_AT_WGSL,
  axisRows,
  checkRank,
  collapse,
  FLOAT_MATH,
  MAIN_1D,
  params,
  paramsWgsl,
  putWords,
  runRows,
  WG,
  wgslType,
  workgroupReduceWgsl,
} from "./common.ts";

/** Use one thread per output when the reduced extent is at most this (or outputs are many). */
const SERIAL_LIMIT = 64;
/** Reduced elements per workgroup in the workgroup path. */
const CHUNK = WG * 64;

function serial(nOut: number, len: number, software: boolean): boolean {
  // On a software adapter (a CPU) a serial loop per output is the fast path as soon as there
  // are enough outputs to fill the SIMD lanes (bias gradients: 384 sums of 2048 rows), below
  // llvmpipe's limit of 65535 loop iterations.
  if (software && nOut >= 32 && len < 65536) return true;
  // Many short rows (layer-norm statistics: 2048 rows of 96) run far faster one thread per
  // row: a workgroup per row spends its time in the barrier tree, which a software adapter
  // (llvmpipe) executes slowly (measured 63 ms against about 1 ms for 2048 x 96).
  return len <= SERIAL_LIMIT || (nOut >= 4096 && len <= 2048) || (nOut >= 512 && len <= 1024);
}

interface Combine {
  init: string;
  empty: string;
  fn: string;
}

function combineOf(op: ReduceOp, t: "f32" | "i32"): Combine {
  if (op === "sum") return { init: `${t}(0)`, empty: `${t}(0)`, fn: "a + b" };
  if (t === "f32") {
    return op === "max"
      ? { init: "-inf_f32()", empty: "-inf_f32()", fn: "max_(a, b)" }
      : { init: "inf_f32()", empty: "inf_f32()", fn: "min_(a, b)" };
  }
  // int32: the CPU stores ±Infinity into an Int32Array for an empty reduction, which is 0.
  return op === "max"
    ? { init: "-2147483647 - 1", empty: "0", fn: "max(a, b)" }
    : { init: "2147483647", empty: "0", fn: "min(a, b)" };
}

/** Offset of output `o` (over kept axes) and of reduced index `r` (over reduced axes). */
const OFFSETS = `
fn kept_offset(o: u32) -> u32 {
  var rem = o; var off = 0u;
  for (var d = i32(P(2)) - 1; d >= 0; d--) {
    let n = P(4u + u32(d)); off += (rem % n) * P(12u + u32(d)); rem = rem / n;
  }
  return off;
}
fn red_offset(r: u32) -> u32 {
  var rem = r; var off = 0u;
  for (var d = i32(P(3)) - 1; d >= 0; d--) {
    let n = P(20u + u32(d)); off += (rem % n) * P(28u + u32(d)); rem = rem / n;
  }
  return off;
}`;

/** Reduces `axes` of a contiguous tensor of `shape`. */
export function reduce(
  e: Engine,
  op: ReduceOp,
  a: GpuBuffer,
  shape: readonly number[],
  axes: readonly number[],
  dtype: DType,
): GpuBuffer {
  const t = wgslType(op, dtype);
  const st = stridesOf(shape);
  const keptShape = shape.filter((_, d) => !axes.includes(d));
  const keptStr = st.filter((_, d) => !axes.includes(d));
  const redShape = axes.map((d) => shape[d]);
  const redStr = axes.map((d) => st[d]);
  const nOut = sizeOf(keptShape), len = sizeOf(redShape);
  const out = e.alloc(op, nOut * 4);
  if (nOut === 0) return out;
  const kc = collapse(keptShape, [keptStr]), rc = collapse(redShape, [redStr]);
  checkRank(op, kc.shape, shape);
  checkRank(op, rc.shape, shape);
  const p = params();
  p[0] = nOut;
  p[1] = len;
  p[2] = kc.shape.length;
  p[3] = rc.shape.length;
  putWords(p, 4, kc.shape, 8);
  putWords(p, 12, kc.strides[0], 8);
  putWords(p, 20, rc.shape, 8);
  putWords(p, 28, rc.strides[0], 8);
  const c = combineOf(op, t);
  const head = `@group(0) @binding(0) var<storage, read> x: array<${t}>;
@group(0) @binding(1) var<storage, read_write> o: array<${t}>;
${paramsWgsl(2)}
${FLOAT_MATH}
${OFFSETS}
fn combine(a: ${t}, b: ${t}) -> ${t} { return ${c.fn}; }`;
  if (serial(nOut, len, e.ctx.info.isFallbackAdapter)) {
    const k = e.kernel(
      `reduce_serial_${op}_${t}`,
      () =>
        `${head}
${MAIN_1D}
  if (i >= P(0)) { return; }
  let len = P(1);
  if (len == 0u) { o[i] = ${c.empty}; return; }
  let base = kept_offset(i);
  var acc: ${t} = ${c.init};
  for (var r = 0u; r < len; r++) { acc = combine(acc, x[base + red_offset(r)]); }
  o[i] = acc;
}`,
      1,
      1,
    );
    e.dispatch(op, k, [a], [out], p, Math.ceil(nOut / WG));
    return out;
  }
  // Long reductions split each output's range over G workgroups of CHUNK elements, then
  // reduce the [nOut, G] partials again: more parallelism, and per-thread loops stay short
  // (llvmpipe stops any shader loop after 65535 iterations).
  const groups = Math.ceil(len / CHUNK);
  const partial = groups > 1 ? e.alloc(op, nOut * groups * 4) : out;
  p[36] = groups > 1 ? CHUNK : len;
  p[37] = groups;
  const k = e.kernel(
    `reduce_wg_${op}_${t}`,
    () =>
      `${head}
var<workgroup> part: array<${t}, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let gid = linear_group(wid, nwg);
  let row = gid / P(37);
  if (row >= P(0)) { return; }
  let r0 = (gid - row * P(37)) * P(36);
  let r1 = min(r0 + P(36), P(1));
  let base = kept_offset(row);
  var acc: ${t} = ${c.init};
  for (var r = r0 + lid; r < r1; r += ${WG}u) { acc = combine(acc, x[base + red_offset(r)]); }
  ${workgroupReduceWgsl("part", "acc", (a, b) => `combine(${a}, ${b})`)}
  if (lid == 0u) { o[gid] = part[0]; }
}`,
    1,
    1,
  );
  e.dispatch(op, k, [a], [partial], p, nOut * groups);
  if (groups === 1) return out;
  e.release(out);
  const result = reduce(e, op, partial, [nOut, groups], [1], dtype);
  e.release(partial);
  return result;
}

/**
 * Index of the largest value along `axis`, first on ties; a NaN counts as largest (the first
 * NaN wins), as in the CPU oracle.
 */
export function argmax(
  e: Engine,
  a: GpuBuffer,
  shape: readonly number[],
  axis: number,
  dtype: DType,
): GpuBuffer {
  const t = wgslType("argmax", dtype);
  const { rows: nOut, len, p } = axisRows(shape, axis);
  const out = e.alloc("argmax", nOut * 4);
  if (nOut === 0) return out;
  // better(v, w): v ranks strictly above w (NaN above everything, equal NaNs tie).
  const better = t === "f32"
    ? "fn better(v: f32, w: f32) -> bool { return (is_nan(v) && !is_nan(w)) || (!is_nan(w) && v > w); }"
    : "fn better(v: i32, w: i32) -> bool { return v > w; }";
  const oneThread = serial(nOut, len, e.ctx.info.isFallbackAdapter);
  return runRows(
    e,
    "argmax",
    {
      inputs: [["x", t]],
      outputs: [["o", "i32"]],
      key: (variant) => `argmax_${variant}_${t}`,
      helpers: `${FLOAT_MATH}
${better}
${AXIS_AT_WGSL}`,
      wgHelpers: `var<workgroup> pv: array<${t}, ${WG}>;
var<workgroup> pi: array<u32, ${WG}>;`,
      serial: oneThread,
      body: () => oneThread ? ARGMAX_SERIAL : ARGMAX_WORKGROUP,
    },
    a,
    out,
    p,
    nOut,
  );
}

/** argmax with one thread per row `i`. */
const ARGMAX_SERIAL = `var best = 0u;
  var bv = x[at(i, 0u)];
  for (var k = 1u; k < P(1); k++) {
    let v = x[at(i, k)];
    if (better(v, bv)) { bv = v; best = k; }
  }
  o[i] = i32(best);`;

/** argmax with one workgroup per row: strided scans, then a tree that keeps the lowest index. */
const ARGMAX_WORKGROUP = `let len = P(1);
  // Each thread scans k = lid, lid + WG, ... in order, so its first best has the lowest index.
  var bi = 0xffffffffu;
  var bv = x[at(row, 0u)];
  for (var k = lid; k < len; k += ${WG}u) {
    let v = x[at(row, k)];
    if (bi == 0xffffffffu || better(v, bv)) { bv = v; bi = k; }
  }
  pv[lid] = bv;
  pi[lid] = bi;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let v = pv[lid + s]; let j = pi[lid + s];
      let w = pv[lid]; let i0 = pi[lid];
      // Take the other share when it is better, or equally good with a lower index.
      let take = j != 0xffffffffu && (i0 == 0xffffffffu || better(v, w) || (!better(w, v) && j < i0));
      if (take) { pv[lid] = v; pi[lid] = j; }
    }
    workgroupBarrier();
  }
  if (lid == 0u) { o[row] = i32(pi[0]); }`;

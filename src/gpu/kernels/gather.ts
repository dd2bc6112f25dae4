/**
 * gather and scatterAdd (torch semantics). WGSL has no float atomics, so scatter-add takes
 * one of two routes: when few index entries can land on each output element (the indexed
 * axis is short) every output loops over them in index order, which is deterministic and
 * adds in the CPU oracle's order; otherwise each index entry adds itself with a
 * compare-and-swap loop on the float's bits (correct, but the order of additions varies).
 * @module
 */
import type { DType } from "../../autograd/dtype.ts";
import { sizeOf, stridesOf } from "../../autograd/shape.ts";
import type { Engine, GpuBuffer } from "../engine.ts";
import { MAIN_1D, MAX_RANK, params, paramsWgsl, putWords, WG, wgslType } from "./common.ts";
import { copy } from "./elementwise.ts";
import { ShapeError } from "../../autograd/errors.ts";

function rankCheck(op: string, rank: number): void {
  if (rank > MAX_RANK) {
    throw new ShapeError(`${op}: webgpu handles rank <= ${MAX_RANK}, got ${rank}`);
  }
}

/**
 * WGSL computing `off`, the flat offset in the indexed tensor that thread i's index entry
 * names: i's coordinates in the index shape (params from `shapeSlot`), with the entry's value
 * on `axis`, times the indexed tensor's strides (params from `strideSlot`). Declares `axis`.
 */
function indexedOffsetWgsl(shapeSlot: number, strideSlot: number): string {
  return `  let axis = P(2);
  var rem = i;
  var off = 0i;
  for (var d = i32(P(1)) - 1; d >= 0; d--) {
    let du = u32(d);
    let s = P(${shapeSlot}u + du);
    let c = rem % s;
    rem = rem / s;
    let coord = select(i32(c), idx[i], du == axis);
    off += coord * Pi(${strideSlot}u + du);
  }`;
}

/** out[..i..] = a[..index[..i..] at axis..]; out-of-range indices read NaN (int32: 0). */
export function gather(
  e: Engine,
  a: GpuBuffer,
  aShape: readonly number[],
  axis: number,
  index: GpuBuffer,
  indexShape: readonly number[],
  dtype: DType,
): GpuBuffer {
  const t = wgslType("gather", dtype);
  const n = sizeOf(indexShape);
  const out = e.alloc("gather", n * 4);
  if (n === 0) return out;
  rankCheck("gather", indexShape.length);
  const k = e.kernel(
    "gather",
    () =>
      `@group(0) @binding(0) var<storage, read> a: array<u32>;
@group(0) @binding(1) var<storage, read> idx: array<i32>;
@group(0) @binding(2) var<storage, read_write> o: array<u32>;
${paramsWgsl(3)}
${MAIN_1D}
  if (i >= P(0)) { return; }
${indexedOffsetWgsl(4, 12)}
  o[i] = select(P(20), a[u32(off)], off >= 0 && u32(off) < P(3));
}`,
    2,
    1,
  );
  const p = params();
  p[0] = n;
  p[1] = indexShape.length;
  p[2] = axis;
  p[3] = sizeOf(aShape);
  putWords(p, 4, indexShape, 8);
  putWords(p, 12, stridesOf(aShape), 8);
  p[20] = t === "f32" ? 0x7fc00000 : 0;
  e.dispatch("gather", k, [a, index], [out], p, Math.ceil(n / WG));
  return out;
}

/** Index entries per output above which scatterAdd switches to compare-and-swap adds. */
const LOOP_LIMIT = 64;

/** out = copy(base); out[..index[..i..] at axis..] += src[..i..]. */
export function scatterAdd(
  e: Engine,
  base: GpuBuffer,
  shape: readonly number[],
  axis: number,
  index: GpuBuffer,
  src: GpuBuffer,
  indexShape: readonly number[],
  dtype: DType,
): GpuBuffer {
  const t = wgslType("scatterAdd", dtype);
  const n = sizeOf(shape), m = sizeOf(indexShape);
  if (n === 0 || m === 0) return copy(e, "scatterAdd", base, n);
  rankCheck("scatterAdd", shape.length);
  const p = params();
  p[1] = shape.length;
  p[2] = axis;
  putWords(p, 4, shape, 8);
  putWords(p, 12, indexShape, 8);
  putWords(p, 20, stridesOf(indexShape), 8);
  putWords(p, 28, stridesOf(shape), 8);
  if (indexShape[axis] <= LOOP_LIMIT) {
    // Deterministic route: each output element sums the entries that tgt it, in order.
    const out = e.alloc("scatterAdd", n * 4);
    const k = e.kernel(
      `scatter_loop_${t}`,
      () =>
        `@group(0) @binding(0) var<storage, read> base: array<${t}>;
@group(0) @binding(1) var<storage, read> idx: array<i32>;
@group(0) @binding(2) var<storage, read> src: array<${t}>;
@group(0) @binding(3) var<storage, read_write> o: array<${t}>;
${paramsWgsl(4)}
${MAIN_1D}
  if (i >= P(0)) { return; }
  let axis = P(2);
  var rem = i;
  var q = 0u;
  var tgt = 0;
  var inside = true;
  for (var d = i32(P(1)) - 1; d >= 0; d--) {
    let du = u32(d);
    let s = P(4u + du);
    let c = rem % s;
    rem = rem / s;
    if (du == axis) { tgt = i32(c); }
    else {
      if (c >= P(12u + du)) { inside = false; }
      q += c * P(20u + du);
    }
  }
  var acc = base[i];
  if (inside) {
    let len = P(12u + axis);
    let step = P(20u + axis);
    for (var k = 0u; k < len; k++) {
      let at = q + k * step;
      if (idx[at] == tgt) { acc += src[at]; }
    }
  }
  o[i] = acc;
}`,
      3,
      1,
    );
    p[0] = n;
    e.dispatch("scatterAdd", k, [base, index, src], [out], p, Math.ceil(n / WG));
    return out;
  }
  // Atomic route: copy base, then every index entry adds itself with a CAS loop.
  const out = copy(e, "scatterAdd", base, n);
  const add = t === "f32"
    ? "bitcast<u32>(bitcast<f32>(old) + v)"
    : "bitcast<u32>(bitcast<i32>(old) + bitcast<i32>(v))";
  const k = e.kernel(
    `scatter_atomic_${t}`,
    () =>
      `@group(0) @binding(0) var<storage, read> idx: array<i32>;
@group(0) @binding(1) var<storage, read> src: array<${t}>;
@group(0) @binding(2) var<storage, read_write> o: array<atomic<u32>>;
${paramsWgsl(3)}
${MAIN_1D}
  if (i >= P(0)) { return; }
${indexedOffsetWgsl(12, 28)}
  let tgt = idx[i];
  if (tgt < 0 || u32(tgt) >= P(4u + axis) || off < 0 || u32(off) >= P(3)) { return; }
  let v = ${t === "f32" ? "src[i]" : "bitcast<u32>(src[i])"};
  var old = atomicLoad(&o[u32(off)]);
  loop {
    let r = atomicCompareExchangeWeak(&o[u32(off)], old, ${add});
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}`,
    2,
    1,
  );
  p[0] = m;
  p[3] = n;
  e.dispatch("scatterAdd", k, [index, src], [out], p, Math.ceil(m / WG));
  return out;
}

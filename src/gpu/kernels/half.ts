/**
 * Half-precision storage on WebGPU (`bfloat16`, `float16`): buffers of packed 16-bit pairs
 * (element 2j in the low half of word j, 2j + 1 in the high half), so a frozen weight costs 2
 * bytes per element. Kernels here widen them to float32 (exact: bfloat16 bits are float32's
 * upper half; every f16 value is a float32, subnormals included, decoded with integer ops so
 * nothing is flushed), narrow float32 to them (round to nearest even, as the CPU backend),
 * gather rows from them (widened) and copy strided views of them (bits unchanged). Values
 * are moved as u32 bits throughout, so no float unit touches a subnormal.
 * @module
 */
import type { HalfDType } from "../../autograd/dtype.ts";
import { BackendError, ShapeError } from "../../autograd/errors.ts";
import { sizeOf, stridesOf } from "../../autograd/shape.ts";
import type { BindingWindow, Engine, GpuBuffer } from "../engine.ts";
import {
  checkRank,
  collapse,
  kernelWgsl,
  MAX_RANK,
  offsetsWgsl,
  params,
  putWords,
  WG,
} from "./common.ts";

/** Bytes of a buffer holding `size` half elements (whole 32-bit words). */
export function halfBytes(size: number): number {
  return Math.ceil(size / 2) * 4;
}

/** WGSL `widen(h: u32) -> u32`: the float32 bits of half bit pattern h. */
function widenWgsl(dtype: HalfDType): string {
  if (dtype === "bfloat16") return "fn widen(h: u32) -> u32 { return h << 16u; }";
  return `fn widen(h: u32) -> u32 {
  let s = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0u) {
    // Subnormal (or zero): m · 2^-24, a normal float32 (or zero), exact.
    return s | bitcast<u32>(f32(m) * 5.9604644775390625e-8);
  }
  if (e == 31u) { return s | 0x7f800000u | (m << 13u); }
  return s | ((e + 112u) << 23u) | (m << 13u);
}`;
}

/** WGSL `narrow(b: u32) -> u32`: float32 bits b rounded to a half bit pattern. */
function narrowWgsl(dtype: HalfDType): string {
  if (dtype === "bfloat16") {
    return `fn narrow(b: u32) -> u32 {
  if ((b & 0x7f800000u) == 0x7f800000u && (b & 0x7fffffu) != 0u) { return (b >> 16u) | 0x40u; }
  return ((b + 0x7fffu + ((b >> 16u) & 1u)) >> 16u) & 0xffffu;
}`;
  }
  return `fn narrow(b: u32) -> u32 {
  let sign = (b >> 16u) & 0x8000u;
  let exp = (b >> 23u) & 0xffu;
  let mant = b & 0x7fffffu;
  if (exp == 0xffu) { return sign | select(0x7c00u, 0x7e00u, mant != 0u); }
  let e = i32(exp) - 127;
  if (e > 15) { return sign | 0x7c00u; }
  if (e >= -14) {
    var h = (u32(e + 15) << 10u) | (mant >> 13u);
    let rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) == 1u)) { h++; }
    return sign | h;
  }
  if (e < -25) { return sign; }
  let m = mant | 0x800000u;
  let shift = u32(-e - 1);
  var h = m >> shift;
  let rem = m & ((1u << shift) - 1u);
  let half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (h & 1u) == 1u)) { h++; }
  return sign | h;
}`;
}

/** WGSL `half_at(e: u32) -> u32`: element e of the packed array `a`. */
const HALF_AT = "fn half_at(e: u32) -> u32 { return (a[e >> 1u] >> ((e & 1u) * 16u)) & 0xffffu; }";

/** Short tag of a half dtype for kernel keys. */
function tag(dtype: HalfDType): string {
  return dtype === "bfloat16" ? "bf16" : "f16";
}

/**
 * Elements per dispatch so that every binding window of a flat kernel over a half input and
 * a float32 output (or the reverse) fits the binding limit and starts aligned: a multiple of
 * the alignment in both buffers, hence of 2·align/4 elements.
 */
function chunkElements(e: Engine, size: number): number {
  const limit = e.maxStorageBinding;
  if (size * 4 <= limit) return size;
  const step = (2 * e.storageAlign) / 4;
  const per = Math.floor(limit / 4 / step) * step;
  if (per < step) {
    throw new BackendError(`half: maxStorageBufferBindingSize ${limit} is too small`);
  }
  return per;
}

/** A float32 buffer of the `size` values of half buffer `a` (exact). */
export function widenHalf(e: Engine, a: GpuBuffer, size: number, dtype: HalfDType): GpuBuffer {
  const out = e.alloc("widen", size * 4);
  if (size === 0) return out;
  const k = e.kernel(
    `half_widen_${tag(dtype)}`,
    () =>
      kernelWgsl({
        inputs: [["a", "u32"]],
        outputs: [["o", "u32"]],
        helpers: `${widenWgsl(dtype)}\n${HALF_AT}`,
        body: "o[i] = widen(half_at(i));",
      }),
    1,
    1,
  );
  const per = chunkElements(e, size);
  for (let e0 = 0; e0 < size; e0 += per) {
    const len = Math.min(per, size - e0);
    const p = params();
    p[0] = len;
    const windows: BindingWindow[] | undefined = per === size
      ? undefined
      : [[e0 * 2, halfBytes(len)], [e0 * 4, len * 4]];
    e.dispatch("widen", k, [a], [out], p, Math.ceil(len / WG), windows);
  }
  return out;
}

/** A half buffer of the `size` float32 values of `a`, rounded to nearest even. */
export function narrowToHalf(
  e: Engine,
  a: GpuBuffer,
  size: number,
  dtype: HalfDType,
): GpuBuffer {
  const out = e.alloc("narrow", halfBytes(size));
  if (size === 0) return out;
  const k = e.kernel(
    `half_narrow_${tag(dtype)}`,
    () =>
      kernelWgsl({
        inputs: [["a", "u32"]],
        outputs: [["o", "u32"]],
        helpers: narrowWgsl(dtype),
        count: "(P(0) + 1u) / 2u",
        body: `let lo = narrow(a[2u * i]);
  var hi = 0u;
  if (2u * i + 1u < P(0)) { hi = narrow(a[2u * i + 1u]); }
  o[i] = lo | (hi << 16u);`,
      }),
    1,
    1,
  );
  const per = chunkElements(e, size);
  for (let e0 = 0; e0 < size; e0 += per) {
    const len = Math.min(per, size - e0);
    const p = params();
    p[0] = len;
    const windows: BindingWindow[] | undefined = per === size
      ? undefined
      : [[e0 * 4, len * 4], [e0 * 2, halfBytes(len)]];
    e.dispatch("narrow", k, [a], [out], p, Math.ceil(Math.ceil(len / 2) / WG), windows);
  }
  return out;
}

/**
 * torch.gather from half storage, widened: out (float32) [..i..] = a[..index[..i..] at
 * axis..]; out-of-range indices read NaN, as the float32 gather.
 */
export function gatherHalf(
  e: Engine,
  a: GpuBuffer,
  aShape: readonly number[],
  axis: number,
  index: GpuBuffer,
  indexShape: readonly number[],
  dtype: HalfDType,
): GpuBuffer {
  const n = sizeOf(indexShape);
  const out = e.alloc("gather", n * 4);
  if (n === 0) return out;
  if (indexShape.length > MAX_RANK) {
    throw new ShapeError(`gather: webgpu handles rank <= ${MAX_RANK}, got ${indexShape.length}`);
  }
  const k = e.kernel(
    `half_gather_${tag(dtype)}`,
    () =>
      kernelWgsl({
        inputs: [["a", "u32"], ["idx", "i32"]],
        outputs: [["o", "u32"]],
        helpers: `${widenWgsl(dtype)}\n${HALF_AT}`,
        body: `let axis = P(2);
  var rem = i;
  var off = 0i;
  for (var d = i32(P(1)) - 1; d >= 0; d--) {
    let du = u32(d);
    let s = P(4u + du);
    let c = rem % s;
    rem = rem / s;
    let coord = select(i32(c), idx[i], du == axis);
    off += coord * Pi(12u + du);
  }
  let inside = off >= 0 && u32(off) < P(3);
  o[i] = select(0x7fc00000u, widen(half_at(u32(max(off, 0)))), inside);`,
      }),
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
  e.dispatch("gather", k, [a, index], [out], p, Math.ceil(n / WG));
  return out;
}

/** out[idx] = a[offset + Σ idx_d · strides_d] for half storage (bits unchanged). */
export function stridedHalf(
  e: Engine,
  a: GpuBuffer,
  outShape: readonly number[],
  strides: readonly number[],
  offset: number,
): GpuBuffer {
  const n = sizeOf(outShape);
  const out = e.alloc("strided", halfBytes(n));
  if (n === 0) return out;
  const c = collapse(outShape, [strides]);
  checkRank("strided", c.shape, outShape);
  const k = e.kernel(
    "half_strided",
    () =>
      kernelWgsl({
        inputs: [["a", "u32"]],
        outputs: [["o", "u32"]],
        helpers: `${HALF_AT}
fn source(j: u32) -> u32 {${offsetsWgsl(1, 3, [11], "j")}
  return P(2) + off0;
}`,
        count: "(P(0) + 1u) / 2u",
        body: `let lo = half_at(source(2u * i));
  var hi = 0u;
  if (2u * i + 1u < P(0)) { hi = half_at(source(2u * i + 1u)); }
  o[i] = lo | (hi << 16u);`,
      }),
    1,
    1,
  );
  const p = params();
  p[0] = n;
  p[1] = c.shape.length;
  p[2] = offset;
  putWords(p, 3, c.shape, 8);
  putWords(p, 11, c.strides[0], 8);
  e.dispatch("strided", k, [a], [out], p, Math.ceil(Math.ceil(n / 2) / WG));
  return out;
}

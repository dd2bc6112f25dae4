/**
 * Half-precision bit patterns: IEEE binary16 (`float16`) and bfloat16, to and from float32.
 * Both widen to float32 exactly (bfloat16 is float32's upper 16 bits; every f16 value is a
 * float32), so a half tensor read as float32 is its exact value; narrowing rounds to
 * nearest even. The one home of these conversions: the safetensors codec, the CPU backend's
 * matmul packing and `Tensor.data()` all use them.
 * @module
 */
import type { HalfDType } from "./dtype.ts";

const F32_BUF = new Float32Array(1);
const U32_BUF = new Uint32Array(F32_BUF.buffer);

let F16_TABLE: Float32Array | undefined;

/** The float32 value of every f16 bit pattern (built once, 256 KiB). */
export function f16Table(): Float32Array {
  if (F16_TABLE) return F16_TABLE;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    let v: number;
    if (exp === 0) v = mant * 2 ** -24;
    else if (exp === 31) v = mant ? NaN : Infinity;
    else v = (1 + mant / 1024) * 2 ** (exp - 15);
    t[h] = sign * v;
  }
  F16_TABLE = t;
  return t;
}

/**
 * Convert IEEE half-precision bit patterns to `Float32Array` (exact; subnormals, ±inf
 * and NaN included).
 *
 * @example
 * ```ts
 * import { f16ToF32 } from "@lossforge/core";
 * console.log(f16ToF32(new Uint16Array([0x3c00, 0x7bff, 0x0001]))); // [1, 65504, 2 ** -24]
 * ```
 */
export function f16ToF32(bits: Uint16Array): Float32Array {
  const t = f16Table();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]];
  return out;
}

function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | (mant ? 0x7e00 : 0x7c00);
  const e = exp - 127;
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {
    let h = ((e + 15) << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++; // carry may reach inf: correct
    return sign | h;
  }
  if (e < -25) return sign;
  const m = mant | 0x800000;
  const shift = -e - 1; // 14..24
  let h = m >>> shift;
  const rem = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rem > half || (rem === half && (h & 1))) h++;
  return sign | h;
}

/**
 * Convert floats to IEEE half-precision bit patterns with round-to-nearest-even
 * (overflow → ±inf, NaN → quiet NaN, correct subnormals). Numbers that are not already
 * f32 are first rounded to f32.
 *
 * @example
 * ```ts
 * import { f32ToF16 } from "@lossforge/core";
 * const bits = f32ToF16(new Float32Array([1, 65504, Infinity]));
 * console.log([...bits].map((b) => b.toString(16))); // ["3c00", "7bff", "7c00"]
 * ```
 */
export function f32ToF16(values: Float32Array | Float64Array | readonly number[]): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    F32_BUF[0] = values[i];
    out[i] = f32BitsToF16(U32_BUF[0]);
  }
  return out;
}

/**
 * Convert bfloat16 bit patterns to `Float32Array` (exact).
 *
 * @example
 * ```ts
 * import { bf16ToF32 } from "@lossforge/core";
 * console.log(bf16ToF32(new Uint16Array([0x3f80, 0xc000]))); // [1, -2]
 * ```
 */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  return out;
}

/**
 * Convert floats to bfloat16 bit patterns with round-to-nearest-even (NaN stays a quiet
 * NaN). Numbers that are not already f32 are first rounded to f32.
 *
 * @example
 * ```ts
 * import { f32ToBf16 } from "@lossforge/core";
 * const bits = f32ToBf16(new Float32Array([1, -2]));
 * console.log([...bits].map((b) => b.toString(16))); // ["3f80", "c000"]
 * ```
 */
export function f32ToBf16(values: Float32Array | Float64Array | readonly number[]): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    F32_BUF[0] = values[i];
    const x = U32_BUF[0];
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) {
      out[i] = (x >>> 16) | 0x40;
    } else {
      out[i] = ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
    }
  }
  return out;
}

/**
 * Writes the float32 values of `count` half bit patterns `bits[from..]` into
 * `out[at..]` (exact): the shared inner loop of every widening.
 */
export function widenHalfInto(
  bits: Uint16Array,
  dtype: HalfDType,
  out: Float32Array,
  at = 0,
  from = 0,
  count = bits.length - from,
): void {
  if (dtype === "bfloat16") {
    const u = new Uint32Array(out.buffer, out.byteOffset + at * 4, count);
    for (let i = 0; i < count; i++) u[i] = bits[from + i] << 16;
  } else {
    const t = f16Table();
    for (let i = 0; i < count; i++) out[at + i] = t[bits[from + i]];
  }
}

/** The float32 values of half bit patterns of `dtype` (exact). */
export function widenHalf(bits: Uint16Array, dtype: HalfDType): Float32Array {
  return dtype === "bfloat16" ? bf16ToF32(bits) : f16ToF32(bits);
}

/** Numbers rounded to half bit patterns of `dtype` (nearest even). */
export function narrowToHalf(
  values: Float32Array | Float64Array | readonly number[],
  dtype: HalfDType,
): Uint16Array {
  return dtype === "bfloat16" ? f32ToBf16(values) : f32ToF16(values);
}

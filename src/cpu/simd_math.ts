/**
 * Float32 transcendental kernels in WebAssembly SIMD for the CPU backend: `exp`, GELU and
 * GELU's backward, four lanes at a time. V8's `Math.exp` costs about 10 ns an element; these
 * run at about 1 ns. They serve float32 tensors only (float64 keeps `Math.exp`, so the
 * backend stays an exact oracle for gradient checks).
 *
 * exp(x) is Cephes' `expf`: n = round(x·log₂e), r = x − n·ln 2 (in two parts, the first exact),
 * e^r by a polynomial, then 2ⁿ as two powers of two (2^⌊n/2⌋ · 2^(n−⌊n/2⌋)) so that results
 * up to the overflow threshold are right (above it, +∞). Results below the smallest normal
 * float32 (x < ln 2⁻¹²⁶ ≈ −87.34, where exp < 1.2e-38) are flushed to 0: producing subnormals
 * costs x86 a microcode assist per lane, and masked attention scores (−1e9) would pay it for
 * half of every softmax (measured 6.3 against 2.1 ms an exp of 1M elements). NaN stays NaN.
 * Measured error against `Math.exp` rounded to float32: within 1 ulp elsewhere
 * (tests/autograd/simd_math_test.ts).
 * @module
 */
import {
  ADD,
  type AsmFunction,
  assemble,
  BLOCK,
  br,
  brIf,
  emitter,
  END,
  EQZ,
  F32X4_ADD,
  F32X4_DIV,
  F32X4_LT,
  F32X4_MAX,
  F32X4_MIN,
  F32X4_MUL,
  F32X4_NEAREST,
  F32X4_SUB,
  f32x4Const,
  get,
  i32c,
  I32X4_ADD,
  I32X4_SHL,
  I32X4_SHR_S,
  I32X4_SUB,
  I32X4_TRUNC_SAT_F32X4_S,
  i32x4Const,
  instantiate,
  LOOP,
  set,
  SUB,
  V128,
  V128_ANDNOT,
  v128Load,
  v128Store,
  type WasmKernels,
} from "./wasm_asm.ts";

const LOG2E = Math.LOG2E;
// ln 2 = C1 − C2' with C1 exact in 9 bits (n·C1 is exact for |n| < 2¹⁵).
const C1 = 0.693359375, C2 = -2.12194440e-4;
const POLY = [
  1.9875691500e-4,
  1.3981999507e-3,
  8.3334519073e-3,
  4.1665795894e-2,
  1.6666665459e-1,
  5.0000001201e-1,
];
/** ln of the smallest normal float32. */
const LN_FLT_MIN = -87.33654;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

type Emit = ReturnType<typeof emitter>;

/** The v128 locals of a lane loop's body. */
interface Regs {
  /** The first input's four lanes. */
  X: number;
  /** The second input's (when there is one). */
  Y: number;
  /** The result to store. */
  R: number;
  /** Temporaries: n, r, ni, h and under are exp's; a and b are free. */
  n: number;
  r: number;
  ni: number;
  h: number;
  under: number;
  a: number;
  b: number;
  /** The function's constants. */
  c: Consts;
}

/**
 * Emits exp of the v128 local `x` into local `out` (x is clobbered), using the temporaries
 * `n`, `r`, `ni` and `h`.
 */
/**
 * A function's v128 constants, each held in a local set once before the loop (V8 rebuilds a
 * `v128.const` at every use inside the loop: 2.9 against 2.1 ns an element for exp).
 */
class Consts {
  readonly locals = new Map<string, number>();
  constructor(readonly base: number) {}
  /** `local.get` of the constant with four f32 lanes `v` (four i32 lanes when `int`). */
  get(v: number, int = false): number[] {
    const key = (int ? "i" : "f") + v;
    if (!this.locals.has(key)) this.locals.set(key, this.base + this.locals.size);
    return get(this.locals.get(key)!);
  }
  /** The instructions that set every constant's local. */
  init(): number[] {
    const code: number[] = [];
    for (const [key, local] of this.locals) {
      const v = Number(key.slice(1));
      emitter(code)(key[0] === "i" ? i32x4Const(v) : f32x4Const(v), set(local));
    }
    return code;
  }
}
function emitExp(emit: Emit, x: number, out: number, t: Regs): void {
  const cst = (v: number, int = false) => t.c.get(v, int);
  // Lanes below ln(FLT_MIN) give 0 (flushed, see the module note): mask them now.
  emit(get(x), cst(LN_FLT_MIN), F32X4_LT, set(t.under));
  emit(get(x), cst(LN_FLT_MIN), F32X4_MAX, cst(89), F32X4_MIN, set(x));
  emit(get(x), cst(LOG2E), F32X4_MUL, F32X4_NEAREST, set(t.n));
  emit(get(x), get(t.n), cst(C1), F32X4_MUL, F32X4_SUB);
  emit(get(t.n), cst(C2), F32X4_MUL, F32X4_SUB, set(t.r));
  emit(get(t.n), I32X4_TRUNC_SAT_F32X4_S, set(t.ni));
  emit(get(t.ni), i32c(1), I32X4_SHR_S, set(t.h));
  // p = (((((c0 r + c1) r + c2) r + c3) r + c4) r + c5) r² + r + 1
  emit(cst(POLY[0]));
  for (let i = 1; i < POLY.length; i++) emit(get(t.r), F32X4_MUL, cst(POLY[i]), F32X4_ADD);
  emit(get(t.r), get(t.r), F32X4_MUL, F32X4_MUL, get(t.r), F32X4_ADD, cst(1), F32X4_ADD);
  // · 2^h · 2^(n−h), each built in the exponent bits.
  emit(get(t.h), cst(127, true), I32X4_ADD, i32c(23), I32X4_SHL, F32X4_MUL);
  emit(get(t.ni), get(t.h), I32X4_SUB, cst(127, true), I32X4_ADD, i32c(23), I32X4_SHL, F32X4_MUL);
  emit(get(t.under), V128_ANDNOT, set(out));
}

/**
 * A loop over `count` groups of four lanes: `inputs` pointer params advance 16 bytes a group;
 * `body` reads local `X` (loaded from the first input) and the others as `Y`, and leaves the
 * result in `R`, stored at the last pointer param (`out`).
 */
function laneLoop(
  name: string,
  inputs: number,
  body: (emit: Emit, v: Regs) => void,
): AsmFunction {
  // Params: inputs pointers, out pointer, count; then ten v128 locals.
  const OUT = inputs, COUNT = inputs + 1, L = inputs + 2;
  const c = new Consts(L + 10);
  const all: Regs = {
    X: L,
    Y: L + 1,
    R: L + 2,
    n: L + 3,
    r: L + 4,
    ni: L + 5,
    h: L + 6,
    a: L + 7,
    b: L + 8,
    under: L + 9,
    c,
  };
  const loop: number[] = [];
  const emit = emitter(loop);
  emit(BLOCK, LOOP);
  emit(get(COUNT), EQZ, brIf(1));
  emit(get(0), v128Load(0), set(all.X));
  if (inputs > 1) emit(get(1), v128Load(0), set(all.Y));
  body(emit, all);
  emit(get(OUT), get(all.R), v128Store(0));
  for (let p = 0; p <= inputs; p++) emit(get(p), i32c(16), ADD, set(p));
  emit(get(COUNT), i32c(1), SUB, set(COUNT), br(0), END, END);
  return {
    name,
    params: inputs + 2,
    locals: [[10 + c.locals.size, V128]],
    code: [...c.init(), ...loop],
  };
}

function mathModule(): Uint8Array<ArrayBuffer> {
  const expFn = laneLoop("exp", 1, (emit, v) => emitExp(emit, v.X, v.R, v));
  // gelu(x) = x / (1 + e^(−2c(x + 0.044715 x³))), the same form as the scalar and WGSL kernels.
  const geluFn = laneLoop("gelu", 1, (emit, v) => {
    emit(get(v.X), set(v.a));
    emit(get(v.X), get(v.X), F32X4_MUL, v.c.get(0.044715), F32X4_MUL, v.c.get(1), F32X4_ADD);
    emit(get(v.X), F32X4_MUL, v.c.get(-2 * SQRT_2_OVER_PI), F32X4_MUL, set(v.X));
    emitExp(emit, v.X, v.R, v);
    emit(get(v.a), get(v.R), v.c.get(1), F32X4_ADD, F32X4_DIV, set(v.R));
  });
  // gelu'(x) = s + 2c·x·s(1 − s)(1 + 3·0.044715 x²) with s = 1 / (1 + e), e = e^(−2u), and
  // 1 − s = e·s (no cancellation); e's argument is capped at 80 so that e·s stays finite.
  const geluGradFn = laneLoop("geluGrad", 2, (emit, v) => {
    emit(get(v.X), get(v.X), F32X4_MUL, set(v.b)); // x²
    emit(get(v.b), v.c.get(0.044715), F32X4_MUL, v.c.get(1), F32X4_ADD, get(v.X), F32X4_MUL);
    emit(v.c.get(-2 * SQRT_2_OVER_PI), F32X4_MUL, v.c.get(80), F32X4_MIN, set(v.a));
    emit(get(v.X), set(v.R)); // keep x while exp clobbers its input
    emitExp(emit, v.a, v.X, v); // X = e
    emit(get(v.R), set(v.a)); // a = x
    emit(v.c.get(1), get(v.X), v.c.get(1), F32X4_ADD, F32X4_DIV, set(v.R)); // R = s
    // d = s + 2c x · s · (e s) · (1 + 3·0.044715 x²)
    emit(get(v.R), get(v.a), v.c.get(2 * SQRT_2_OVER_PI), F32X4_MUL, get(v.R), F32X4_MUL);
    emit(get(v.X), get(v.R), F32X4_MUL, F32X4_MUL);
    emit(get(v.b), v.c.get(3 * 0.044715), F32X4_MUL, v.c.get(1), F32X4_ADD, F32X4_MUL);
    emit(F32X4_ADD, get(v.Y), F32X4_MUL, set(v.R));
  });
  return assemble([expFn, geluFn, geluGradFn]);
}

interface MathFns {
  exp(x: number, out: number, count: number): void;
  gelu(x: number, out: number, count: number): void;
  geluGrad(x: number, g: number, out: number, count: number): void;
}

/** Elements per call: 256 KB per operand, so chunks stay in cache and memory stays small. */
const CHUNK = 1 << 16;

/**
 * The float32 kernels over typed arrays (each copies a chunk into the module's memory, runs
 * there and copies the result out).
 */
export interface SimdMath {
  /** out[i] = exp(x[i]) for i < n. `out` may be `x`. */
  exp(x: Float32Array, out: Float32Array, n: number): void;
  /** out[i] = gelu(x[i]) (tanh form). */
  gelu(x: Float32Array, out: Float32Array, n: number): void;
  /** out[i] = g[i] · gelu'(x[i]). */
  geluGrad(x: Float32Array, g: Float32Array, out: Float32Array, n: number): void;
}

function wrap(k: WasmKernels<MathFns>): SimdMath {
  k.ensure(3 * CHUNK * 4);
  let view = new Float32Array(k.memory.buffer);
  const unary =
    (f: (x: number, out: number, c: number) => void) =>
    (x: Float32Array, out: Float32Array, n: number) => {
      if (view.buffer !== k.memory.buffer) view = new Float32Array(k.memory.buffer);
      for (let i = 0; i < n; i += CHUNK) {
        const c = Math.min(CHUNK, n - i);
        view.set(x.subarray(i, i + c), 0);
        f(0, 0, (c + 3) >> 2);
        out.set(view.subarray(0, c), i);
      }
    };
  return {
    exp: unary(k.fns.exp),
    gelu: unary(k.fns.gelu),
    geluGrad(x, g, out, n) {
      if (view.buffer !== k.memory.buffer) view = new Float32Array(k.memory.buffer);
      for (let i = 0; i < n; i += CHUNK) {
        const c = Math.min(CHUNK, n - i);
        view.set(x.subarray(i, i + c), 0);
        view.set(g.subarray(i, i + c), CHUNK);
        k.fns.geluGrad(0, CHUNK * 4, 0, (c + 3) >> 2);
        out.set(view.subarray(0, c), i);
      }
    },
  };
}

let instance: SimdMath | null | undefined;

/** The kernels (compiled once), or null without WebAssembly SIMD. */
export function simdMath(): SimdMath | null {
  if (instance !== undefined) return instance;
  const k = instantiate<MathFns>(mathModule());
  instance = k && wrap(k);
  return instance;
}

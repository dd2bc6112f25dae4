/**
 * A tiny WebAssembly assembler: just enough encoding to write the CPU backend's SIMD kernels
 * (`simd_matmul.ts`, `simd_math.ts`) as instruction lists in TypeScript, with no toolchain and
 * no binary blob. Every module imports one memory, `env.mem`, and exports functions whose
 * parameters are all i32 (byte offsets and counts).
 * @module
 */

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (for i32.const). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** Value types. */
export const I32 = 0x7f, V128 = 0x7b;

/** local.get / local.set / local.tee. */
export const get = (i: number): number[] => [0x20, ...uleb(i)];
export const set = (i: number): number[] => [0x21, ...uleb(i)];
export const tee = (i: number): number[] => [0x22, ...uleb(i)];
/** i32.const. */
export const i32c = (v: number): number[] => [0x41, ...sleb(v)];
/** A SIMD (0xfd-prefixed) instruction. */
export const simd = (op: number): number[] => [0xfd, ...uleb(op)];
/** i32 arithmetic and comparisons. */
export const ADD = 0x6a, SUB = 0x6b, MUL = 0x6c, GE_U = 0x4f, EQZ = 0x45;
/** Structured control flow. */
export const BLOCK = [0x02, 0x40], LOOP = [0x03, 0x40], END = 0x0b;
export const br = (d: number): number[] => [0x0c, ...uleb(d)];
export const brIf = (d: number): number[] => [0x0d, ...uleb(d)];
/** v128 memory access (16-byte aligned hint) and loading one f32 into every lane. */
export const v128Load = (offset: number): number[] => [...simd(0x00), 4, ...uleb(offset)];
export const loadSplat = (offset: number): number[] => [...simd(0x09), 2, ...uleb(offset)];
export const v128Store = (offset: number): number[] => [...simd(0x0b), 4, ...uleb(offset)];
/** A v128 constant of four equal f32 lanes. */
export function f32x4Const(v: number): number[] {
  const b = new Uint8Array(new Float32Array([v, v, v, v]).buffer);
  return [...simd(0x0c), ...b];
}
/** A v128 constant of four equal i32 lanes. */
export function i32x4Const(v: number): number[] {
  const b = new Uint8Array(new Int32Array([v, v, v, v]).buffer);
  return [...simd(0x0c), ...b];
}
export const v128Zero: number[] = [...simd(0x0c), ...new Array(16).fill(0)];
/** f32x4 arithmetic. */
export const F32X4_NEG = simd(0xe1), F32X4_ADD = simd(0xe4), F32X4_SUB = simd(0xe5);
export const F32X4_MUL = simd(0xe6), F32X4_DIV = simd(0xe7);
export const F32X4_LT = simd(0x43), V128_ANDNOT = simd(0x4f);
export const F32X4_MIN = simd(0xe8), F32X4_MAX = simd(0xe9), F32X4_NEAREST = simd(0x6a);
/** i32x4 arithmetic and conversions. */
export const I32X4_SHL = simd(0xab), I32X4_SHR_S = simd(0xac), I32X4_ADD = simd(0xae);
export const I32X4_SUB = simd(0xb1), I32X4_TRUNC_SAT_F32X4_S = simd(0xf8);

/** Appends instructions (numbers or arrays of them) to a code list. */
export function emitter(code: number[]): (...xs: (number | number[])[]) => void {
  return (...xs) => {
    for (const x of xs) typeof x === "number" ? code.push(x) : code.push(...x);
  };
}

/** One exported function: its i32 parameter count, extra locals and body (without END). */
export interface AsmFunction {
  /** Export name. */
  name: string;
  /** Number of i32 parameters. */
  params: number;
  /** Extra local declarations as [count, type] pairs, after the parameters. */
  locals: [number, number][];
  /** Instructions. */
  code: number[];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function str(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

/** Pages (64 KiB) of a shared memory's maximum: 4 GiB, all a 32-bit module can address. */
export const SHARED_MAX_PAGES = 65536;

/**
 * Assembles a module that imports `env.mem` and exports `fns` (each returning nothing). With
 * `shared`, the imported memory is a shared one (maximum `SHARED_MAX_PAGES`), which worker
 * threads can run the same code on.
 */
export function assemble(fns: AsmFunction[], shared = false): Uint8Array<ArrayBuffer> {
  const arities = [...new Set(fns.map((f) => f.params))];
  const types = arities.map((n) => [0x60, ...uleb(n), ...new Array(n).fill(I32), 0]);
  const type = section(1, [...uleb(types.length), ...types.flat()]);
  const limits = shared ? [0x03, 1, ...uleb(SHARED_MAX_PAGES)] : [0x00, 1];
  const imp = section(2, [1, ...str("env"), ...str("mem"), 0x02, ...limits]);
  const func = section(3, [...uleb(fns.length), ...fns.map((f) => arities.indexOf(f.params))]);
  const exps = fns.map((f, i) => [...str(f.name), 0x00, ...uleb(i)]);
  const exp = section(7, [...uleb(fns.length), ...exps.flat()]);
  const bodies = fns.map((f) => {
    const locals = [...uleb(f.locals.length), ...f.locals.flatMap(([n, t]) => [...uleb(n), t])];
    const b = [...locals, ...f.code, END];
    return [...uleb(b.length), ...b];
  });
  const code = section(10, [...uleb(fns.length), ...bodies.flat()]);
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...type,
    ...imp,
    ...func,
    ...exp,
    ...code,
  ]);
}

/** A compiled module's exports with its own growable memory. */
export interface WasmKernels<F> {
  /** The exported functions. */
  fns: F;
  /** The module's memory (views must be re-made after `ensure`). */
  memory: WebAssembly.Memory;
  /** The compiled module (for instances on other threads when the memory is shared). */
  module: WebAssembly.Module;
  /** Grows memory to at least `bytes`. */
  ensure(bytes: number): void;
}

/**
 * Compiles and instantiates `bytes` on a fresh memory (a shared one when the module was
 * assembled `shared`); null where it does not validate.
 */
export function instantiate<F>(
  bytes: Uint8Array<ArrayBuffer>,
  shared = false,
): WasmKernels<F> | null {
  try {
    if (typeof WebAssembly === "undefined" || !WebAssembly.validate(bytes)) return null;
    const memory = shared
      ? new WebAssembly.Memory({ initial: 1, maximum: SHARED_MAX_PAGES, shared: true })
      : new WebAssembly.Memory({ initial: 1 });
    const module = new WebAssembly.Module(bytes);
    const inst = new WebAssembly.Instance(module, { env: { mem: memory } });
    return {
      fns: inst.exports as F,
      memory,
      module,
      ensure(need: number) {
        const have = memory.buffer.byteLength;
        if (need > have) memory.grow(Math.ceil((need - have) / 65536));
      },
    };
  } catch {
    return null;
  }
}

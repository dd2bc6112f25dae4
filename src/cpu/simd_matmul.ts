/**
 * A float32 matmul micro-kernel in WebAssembly SIMD, assembled here from its instructions (no
 * toolchain, no binary blob). JavaScript has no SIMD; V8's WebAssembly runs f32x4 arithmetic
 * on the CPU's vector unit, which makes this kernel several times faster than the scalar
 * loop in `backend.ts` (which stays the path for float64, int32, and where WebAssembly SIMD is
 * missing).
 *
 * Layout: op(a) is packed in panels of 4 rows (`[k][4]` floats per panel), op(b) in panels of
 * 8 columns (`[k][8]`); each 4x8 block of the output is summed in eight f32x4 registers while
 * both panels stream front to back. The output is written as `[4·mPanels, 8·nPanels]` in the
 * module's memory and copied out by the caller.
 * @module
 */
import {
  ADD,
  assemble,
  BLOCK,
  br,
  brIf,
  emitter,
  END,
  EQZ,
  F32X4_ADD,
  F32X4_MUL,
  GE_U,
  get,
  I32,
  i32c,
  instantiate,
  loadSplat,
  LOOP,
  MUL,
  set,
  SUB,
  V128,
  v128Load,
  v128Store,
  v128Zero,
} from "./wasm_asm.ts";
import { type MatmulPool, startPool } from "./matmul_pool.ts";
import { ValueError } from "../autograd/errors.ts";

// Locals: params 0..5 = ap, bp, out, mPanels, k, nPanels (bytes and counts, i32).
const AP = 0, BP = 1, OUT = 2, MP = 3, K = 4, NP = 5;
// i32 locals.
const IP = 6, JP = 7, P = 8, PA = 9, PB = 10, O = 11, NS = 12;
// v128 locals: c0..c7 accumulators, b0, b1.
const C0 = 13, B0 = 21, B1 = 22;

function body(): number[] {
  const code: number[] = [];
  const emit = emitter(code);
  // ns = nPanels * 32: bytes per output row.
  emit(get(NP), i32c(32), MUL, set(NS));
  emit(i32c(0), set(IP));
  emit(BLOCK, LOOP); // rows of panels
  emit(get(IP), get(MP), GE_U, brIf(1));
  emit(i32c(0), set(JP));
  emit(BLOCK, LOOP); // columns of panels
  emit(get(JP), get(NP), GE_U, brIf(1));
  for (let c = 0; c < 8; c++) emit(v128Zero, set(C0 + c));
  // pa = ap + ip·k·16, pb = bp + jp·k·32, p = k
  emit(get(AP), get(IP), get(K), MUL, i32c(16), MUL, ADD, set(PA));
  emit(get(BP), get(JP), get(K), MUL, i32c(32), MUL, ADD, set(PB));
  emit(get(K), set(P));
  emit(BLOCK, LOOP); // depth
  emit(get(P), EQZ, brIf(1));
  emit(get(PB), v128Load(0), set(B0));
  emit(get(PB), v128Load(16), set(B1));
  for (let r = 0; r < 4; r++) {
    // c[2r] += splat(a[r]) * b0; c[2r+1] += splat(a[r]) * b1
    emit(
      get(C0 + 2 * r),
      get(PA),
      loadSplat(4 * r),
      get(B0),
      F32X4_MUL,
      F32X4_ADD,
      set(C0 + 2 * r),
    );
    emit(
      get(C0 + 2 * r + 1),
      get(PA),
      loadSplat(4 * r),
      get(B1),
      F32X4_MUL,
      F32X4_ADD,
      set(C0 + 2 * r + 1),
    );
  }
  emit(get(PA), i32c(16), ADD, set(PA));
  emit(get(PB), i32c(32), ADD, set(PB));
  emit(get(P), i32c(1), SUB, set(P));
  emit(br(0), END, END);
  // o = out + ip·4·ns + jp·32
  emit(get(OUT), get(IP), i32c(4), MUL, get(NS), MUL, ADD, get(JP), i32c(32), MUL, ADD, set(O));
  for (let r = 0; r < 4; r++) {
    emit(get(O), get(C0 + 2 * r), v128Store(0));
    emit(get(O), get(C0 + 2 * r + 1), v128Store(16));
    emit(get(O), get(NS), ADD, set(O));
  }
  emit(get(JP), i32c(1), ADD, set(JP), br(0), END, END);
  emit(get(IP), i32c(1), ADD, set(IP), br(0), END, END);
  return code;
}

/**
 * The module's bytes: imports `env.mem` (shared when `shared`), exports
 * `mm(ap, bp, out, mPanels, k, nPanels)`.
 */
export function simdMatmulModule(shared = false): Uint8Array<ArrayBuffer> {
  const fn = { name: "mm", params: 6, locals: [[7, I32], [10, V128]] as [number, number][] };
  return assemble([{ ...fn, code: body() }], shared);
}

/** The kernel with its memory; null where WebAssembly SIMD is unavailable. */
export interface SimdMatmul {
  /** Runs the kernel (byte offsets into `memory`). */
  mm(ap: number, bp: number, out: number, mPanels: number, k: number, nPanels: number): void;
  /** The module's memory (grows on demand; views must be re-made after `ensure`). */
  memory: WebAssembly.Memory;
  /** Grows memory to at least `bytes`. */
  ensure(bytes: number): void;
  /** The worker threads sharing the memory, or null when `cpuThreads()` is 1. */
  pool(): MatmulPool | null;
}

let instance: SimdMatmul | null | undefined;
let threads: number | undefined;
let running: MatmulPool | null | undefined; // null: could not start

function threadsFromEnv(): number | undefined {
  try {
    const perm = Deno.permissions.querySync({ name: "env", variable: "LOSSFORGE_CPU_THREADS" });
    if (perm.state !== "granted") return undefined;
    const v = Deno.env.get("LOSSFORGE_CPU_THREADS");
    if (v === undefined || v === "") return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      throw new ValueError(`LOSSFORGE_CPU_THREADS must be an integer >= 1, got "${v}"`);
    }
    return n;
  } catch (e) {
    if (e instanceof ValueError) throw e;
    return undefined;
  }
}

/**
 * Threads the CPU backend's float32 matmul uses, the caller's included: `setCpuThreads`,
 * else `LOSSFORGE_CPU_THREADS`, else `navigator.hardwareConcurrency` capped at 8.
 *
 * @example
 * ```ts
 * import { cpuThreads } from "@lossforge/core";
 * console.log(`matmul on ${cpuThreads()} threads`); // LOSSFORGE_CPU_THREADS, else up to 8 cores
 * ```
 */
export function cpuThreads(): number {
  if (threads === undefined) {
    const hw = typeof navigator !== "undefined" ? navigator.hardwareConcurrency ?? 1 : 1;
    threads = threadsFromEnv() ?? Math.max(1, Math.min(8, hw));
  }
  return threads;
}

/**
 * Sets the threads of the CPU backend's float32 matmul (1 turns worker threads off; results
 * are bitwise the same with any count). Running workers stop; new ones start on the next large
 * product.
 *
 * @example
 * ```ts
 * import { cpuThreads, matmul, randn, setCpuThreads } from "@lossforge/core";
 * const a = randn([256, 256]);
 * const threaded = await matmul(a, a).data();
 * setCpuThreads(1); // no worker threads: the same bits, on the caller's thread
 * console.log(cpuThreads(), (await matmul(a, a).data()).join() === threaded.join()); // 1 true
 * ```
 */
export function setCpuThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new ValueError(`setCpuThreads: threads must be an integer >= 1, got ${n}`);
  }
  threads = n;
  running?.close();
  running = undefined;
}

/** The SIMD matmul kernel (compiled once), or null without WebAssembly SIMD. */
export function simdMatmul(): SimdMatmul | null {
  if (instance !== undefined) return instance;
  const shared = typeof SharedArrayBuffer !== "undefined";
  const k = instantiate<{ mm: SimdMatmul["mm"] }>(simdMatmulModule(shared), shared) ??
    instantiate<{ mm: SimdMatmul["mm"] }>(simdMatmulModule(false), false);
  const isShared = k !== null && typeof SharedArrayBuffer !== "undefined" &&
    k.memory.buffer instanceof SharedArrayBuffer;
  instance = k && {
    mm: k.fns.mm,
    memory: k.memory,
    ensure: k.ensure,
    pool() {
      if (!isShared || cpuThreads() < 2) return null;
      if (running === undefined) running = startPool(k.module, k.memory, cpuThreads());
      return running;
    },
  };
  return instance;
}

/**
 * The large-product matmul for hardware GPUs (docs/gpu.md "Kernel choice by shape and
 * adapter"; a kernel of this design measured 27.3 TFLOP/s at 4096³ float32 on an H200,
 * BENCHMARKS.md "Baselines"): a 128x128 output tile per workgroup, depth BK = 8 per stage, 256 threads (16x16),
 * each thread an 8x8 block of outputs held in 16 vec4 accumulators. A is stored transposed in
 * workgroup memory (`As[p][row]`) and B as is (`Bs[p][col]`), both as vec4s, so the fully
 * unrolled inner loop reads 2 + 2 vec4s and does 64 multiply-adds per depth step.
 *
 * A thread owns rows `ty*4 + {0..3}` and `64 + ty*4 + {0..3}`, columns `tx*4 + {0..3}` and
 * `64 + tx*4 + {0..3}`: neighbouring threads read neighbouring vec4s of `Bs` (no bank
 * conflicts) and write neighbouring 16-byte chunks of the output.
 *
 * Each stage, every thread loads one vec4 of A and one of B along the operand's contiguous
 * axis (k for A, n for B, m for Aᵀ, k for Bᵀ), so the four transpose layouts differ only in
 * those loads. A vec4 global load needs that axis to be a multiple of 4 (then batch offsets
 * and row starts are 16-byte aligned, and a load that starts in bounds ends in bounds);
 * otherwise the kernel is specialised with four guarded scalar loads. Edge tiles load zeros
 * out of bounds and guard their stores; the output is written in vec4s when n % 4 == 0.
 * @module
 */
import type { Engine } from "../engine.ts";
import { matmulHeadWgsl, softwareKernels } from "../kernels/common.ts";

/** Output rows (and columns) of a workgroup's tile. */
export const BIG_TILE = 128;
/** Depth of a stage. */
export const BIG_BK = 8;
/** Threads per workgroup (16 x 16). */
export const BIG_THREADS = 256;
/** Workgroup memory of the kernel: two 128 x 8 float tiles. */
export const BIG_WORKGROUP_BYTES = 2 * BIG_TILE * BIG_BK * 4;

let force: boolean | null = null;

/**
 * Forces the 128x128 kernel on (true: every matmul, any shape and adapter, as long as the
 * device limits allow it) or off (false); null restores the rule of `useBig`. Benchmarks and
 * tests use it.
 */
export function setBigMatmul(on: boolean | null): void {
  force = on;
}

/** Whether `setBigMatmul` currently forces the kernel on or off (null: the rule decides). */
export function bigMatmulForced(): boolean | null {
  return force;
}

/**
 * Whether the device can run the kernel: 256 invocations per workgroup, a 16 x 16 workgroup
 * and 8 KiB of workgroup memory (limits the adapter does not report count as WebGPU's
 * defaults, which allow it).
 */
export function bigMatmulFits(e: { ctx: { info: { limits: Record<string, number> } } }): boolean {
  const l = e.ctx.info.limits;
  const at = (name: string, dflt: number) => l[name] ?? dflt;
  return at("maxComputeInvocationsPerWorkgroup", 256) >= BIG_THREADS &&
    at("maxComputeWorkgroupSizeX", 256) >= 16 &&
    at("maxComputeWorkgroupSizeY", 256) >= 16 &&
    at("maxComputeWorkgroupStorageSize", 16384) >= BIG_WORKGROUP_BYTES;
}

/** On a software adapter, the smallest m, n and k that take the 128x128 kernel. */
const SOFTWARE_MIN = 512;

/**
 * Whether an m x k x n product runs the 128x128 kernel. The rule: the
 * device limits allow it (`bigMatmulFits`) and m ≥ 128, n ≥ 128,
 * k ≥ 8 — at least one full output tile and one full stage, so edge tiles stay a minority of
 * the work. On a software adapter (see `softwareKernels`) only for m, n, k ≥ 512: on llvmpipe
 * it ran 16% faster than the 8x8-block tiles at 1024³ (bench/matmul_tiles.ts), but a small
 * model's training step (products of 2048 x 96 x 384) ran 5-15% slower with it. Smaller products
 * keep the 64x64 tile (more workgroups) or the direct kernel. `setBigMatmul` overrides the
 * shape and adapter conditions (never the device limits); a forced tile (`setMatmulTile`)
 * turns it off unless `setBigMatmul(true)` is set.
 */
export function useBig(
  e: Engine,
  m: number,
  k: number,
  n: number,
  tileForced = false,
): boolean {
  if (!bigMatmulFits(e)) return false;
  if (force !== null) return force;
  if (tileForced) return false;
  if (m < BIG_TILE || n < BIG_TILE || k < BIG_BK) return false;
  return !softwareKernels(e) || (m >= SOFTWARE_MIN && n >= SOFTWARE_MIN && k >= SOFTWARE_MIN);
}

/**
 * WGSL of the 128x128 kernel for dtype `t` and operand layouts; `vecA`/`vecB` load the
 * operand in vec4s (its contiguous axis is a multiple of 4), `vecO` stores in vec4s (n % 4 == 0).
 */
export function matmulBigCode(
  t: "f32" | "i32",
  transA: boolean,
  transB: boolean,
  vecA: boolean,
  vecB: boolean,
  vecO: boolean,
): string {
  const v4 = `vec4<${t}>`;
  // One vec4 per thread per stage. `contig` says whether the 4 loaded values run along the
  // tile's row/col axis (stored as one vec4) or along depth (scattered into 4 rows of the
  // transposed tile).
  const load = (
    name: "a" | "b",
    tile: "As" | "Bs",
    alongDepth: boolean,
    vec: boolean,
    outer: "M" | "N",
    off: string,
    start: string,
  ) => {
    // alongDepth: the operand is (outer x K) row-major; thread: x = tid / 2, p = (tid % 2) * 4.
    // otherwise: the operand is (K x outer) row-major; thread: p = tid / 32, x = (tid % 32) * 4.
    const idx = alongDepth
      ? `let x = tid / 2u; let p = (tid % 2u) * 4u; let gx = ${start} + x; let gp = k0 + p;`
      : `let p = tid / 32u; let x = (tid % 32u) * 4u; let gx = ${start} + x; let gp = k0 + p;`;
    const base = alongDepth ? `${off} + gx * K + gp` : `${off} + gp * ${outer} + gx`;
    let fetch: string;
    if (vec) {
      // The contiguous axis is a multiple of 4: in bounds at the start means in bounds at the end.
      const cond = alongDepth ? `gx < ${outer} && gp < K` : `gp < K && gx < ${outer}`;
      fetch = `var v = ${v4}(); if (${cond}) { v = ${name}[(${base}) / 4u]; }`;
    } else {
      const parts: string[] = [];
      for (let j = 0; j < 4; j++) {
        const cond = alongDepth
          ? `gx < ${outer} && gp + ${j}u < K`
          : `gp < K && gx + ${j}u < ${outer}`;
        parts.push(`if (${cond}) { v[${j}] = ${name}[${base} + ${j}u]; }`);
      }
      fetch = `var v = ${v4}(); ${parts.join(" ")}`;
    }
    const store = alongDepth
      ? [0, 1, 2, 3].map((j) => `${tile}[(p + ${j}u) * 32u + x / 4u][x % 4u] = v[${j}];`).join(
        " ",
      )
      : `${tile}[p * 32u + x / 4u] = v;`;
    return `{ ${idx} ${fetch} ${store} }`;
  };
  const loadA = load("a", "As", !transA, vecA, "M", "aOff", "row0");
  const loadB = load("b", "Bs", transB, vecB, "N", "bOff", "col0");
  const comp = ["x", "y", "z", "w"];
  const accs: string[] = [];
  for (let i = 0; i < 8; i++) {
    for (let j = 0; j < 2; j++) accs.push(`var c${i}_${j} = ${v4}();`);
  }
  const steps: string[] = [];
  for (let p = 0; p < BIG_BK; p++) {
    const s = [
      `let a0 = As[${p * 32}u + ty];`,
      `let a1 = As[${p * 32 + 16}u + ty];`,
      `let b0 = Bs[${p * 32}u + tx];`,
      `let b1 = Bs[${p * 32 + 16}u + tx];`,
    ];
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 2; j++) s.push(`c${i}_${j} += a${i >> 2}.${comp[i & 3]} * b${j};`);
    }
    steps.push(`{ ${s.join(" ")} }`);
  }
  // Accumulator i is row (i < 4 ? ty*4 + i : 64 + ty*4 + i - 4); j is columns tx*4 + 64j + 0..3.
  const stores: string[] = [];
  for (let i = 0; i < 8; i++) {
    const row = `row0 + ${i < 4 ? 0 : 64}u + ty * 4u + ${i & 3}u`;
    const lines: string[] = [];
    for (let j = 0; j < 2; j++) {
      const col = `c0 + ${j * 64}u`;
      if (vecO) {
        lines.push(`if (${col} < N) { o[(at + ${col}) / 4u] = c${i}_${j}; }`);
      } else {
        for (let c = 0; c < 4; c++) {
          lines.push(`if (${col} + ${c}u < N) { o[at + ${col} + ${c}u] = c${i}_${j}.${comp[c]}; }`);
        }
      }
    }
    stores.push(`{ let gr = ${row}; if (gr < M) { let at = oOff + gr * N; ${lines.join(" ")} } }`);
  }
  const types = { a: vecA ? v4 : t, b: vecB ? v4 : t, o: vecO ? v4 : t, tile: v4 };
  const tiles = { aTile: BIG_BK * 32, bTile: BIG_BK * 32, bm: BIG_TILE, bn: BIG_TILE };
  return `${matmulHeadWgsl({ ...types, ...tiles, wx: 16, wy: 16 })}
  let tx = lid.x; let ty = lid.y; let tid = ty * 16u + tx;
  ${accs.join(" ")}
  for (var k0 = 0u; k0 < K; k0 += ${BIG_BK}u) {
    ${loadA}
    ${loadB}
    workgroupBarrier();
    ${steps.join("\n    ")}
    workgroupBarrier();
  }
  let c0 = col0 + tx * 4u;
  ${stores.join("\n  ")}
}`;
}

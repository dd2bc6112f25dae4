/**
 * Tiled batched matmul, generated for a tile configuration: each workgroup computes a BM x BN
 * tile of the output, each thread a TM x TN block of it held in vec4 accumulators (register
 * blocking). Tiles of depth BK of A and B are staged through workgroup memory as vec4s of
 * consecutive rows (A) or columns (B), so the unrolled inner loop reads TM/4 + TN/4 vec4s and
 * does TM·TN multiply-adds. Transposed operands only change how a tile is loaded (loads walk
 * the operand's contiguous axis fastest), never the inner loop, so backward passes need no
 * copies. Batch dims broadcast through per-batch offsets.
 *
 * The tile is chosen per product from a small table (see `pickTile`); on a software adapter
 * (llvmpipe/lavapipe, which runs workgroups on CPU threads) larger register blocks with few
 * threads win, on a GPU the 64x64 tile with 4x4 blocks is a safe default. Large products on a
 * hardware GPU (m, n ≥ 128 and k ≥ 8) take the 128x128 kernel of `./big.ts` instead.
 * A float32 product whose shape class has a tuned entry for this adapter (`tuneMatmul`,
 * `./table.ts`) runs the tuned kernel instead of these rules, unless a tile or the big
 * kernel is forced (`setMatmulTile`, `setBigMatmul`).
 * @module
 */
import type { MatmulSpec } from "../../autograd/backend.ts";
import type { DType } from "../../autograd/dtype.ts";
import { broadcastStrides, sizeOf } from "../../autograd/shape.ts";
import { ShapeError } from "../../autograd/errors.ts";
import { type BindingWindow, chunkRows, type Engine, type GpuBuffer } from "../engine.ts";
import {
  collapse,
  kernelWgsl,
  MATMUL_OFFSETS_WGSL,
  matmulHeadWgsl,
  params,
  putWords,
  softwareKernels,
  WG,
  wgslType,
} from "../kernels/common.ts";
import { binary } from "../kernels/elementwise.ts";
import { bigMatmulFits, bigMatmulForced, matmulBigCode, useBig } from "./big.ts";
import { lookupTuned, type MatmulChoice, type MatmulTile } from "./table.ts";

const MAX_BATCH_RANK = 8;

/** The default tile (any adapter). */
export const TILE_DEFAULT: MatmulTile = { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 };

let override: MatmulTile | null = null;

/** Forces one tile for every matmul (benchmarks use it to compare tiles); null restores. */
export function setMatmulTile(tile: MatmulTile | null): void {
  override = tile;
}

/** The kernel key of a tile kernel (also how tests see which tile ran). */
export function tileKernelKey(
  t: "f32" | "i32",
  transA: boolean,
  transB: boolean,
  tile: MatmulTile,
): string {
  const { bm, bn, bk, tm, tn } = tile;
  return `matmul_${t}_${transA ? "t" : "n"}${transB ? "t" : "n"}_${bm}x${bn}x${bk}_${tm}x${tn}${
    tile.unroll === false ? "_loop" : ""
  }`;
}

/** The tile for an m x k x n product with `batch` matrices on engine `e`. */
export function pickTile(e: Engine, m: number, _k: number, n: number, batch: number): MatmulTile {
  if (override) return override;
  if (!e.ctx.info.isFallbackAdapter) return TILE_DEFAULT;
  // Software adapter: each workgroup is a CPU task and two or four are enough to fill the
  // cores, so the biggest tile that the product does not overhang wins (8x8 blocks per
  // thread; measured with bench/matmul_tiles.ts on llvmpipe).
  const side = (d: number) => (d <= 32 ? 32 : d <= 64 ? 64 : 128);
  let bm = side(m), bn = side(n);
  const tiles = () => Math.ceil(m / bm) * Math.ceil(n / bn) * batch;
  while (tiles() < 4 && (bm > 32 || bn > 32)) {
    if (bm >= bn) bm /= 2;
    else bn /= 2;
  }
  return { bm, bn, bk: 8, tm: 8, tn: 8 };
}

/**
 * Whether an m x k x n product runs the direct kernel (one thread per output element, a serial
 * loop over k) rather than a tile: when the output is so thin (attention at generation time:
 * m = 1 query row against n cached keys, batched over batch x heads) that a tile would leave
 * most of its threads idle. On a GPU that means m or n of at most 4; on a software adapter,
 * whenever less than a quarter of the tiles' outputs are real (measured on llvmpipe: 200
 * products of 1x24x83, 7.6 ms tiled against 0.7 ms direct; 4x384x96 1.0 against 0.33 ms;
 * 8x2048x2048 39 ms tiled against 64 ms direct, so the tile stays there).
 */
export function useDirect(e: Engine, m: number, _k: number, n: number): boolean {
  if (override || useBig(e, m, _k, n)) return false;
  if (!softwareKernels(e)) return Math.min(m, n) <= 4;
  const t = pickTile(e, m, _k, n, 1);
  const used = (m * n) / (Math.ceil(m / t.bm) * t.bm * Math.ceil(n / t.bn) * t.bn);
  return used < 0.25;
}

/** WGSL of the direct matmul kernel: thread i computes output element i (batch, row, column). */
export function matmulDirectCode(t: "f32" | "i32", transA: boolean, transB: boolean): string {
  const aAt = transA ? "aOff + p * M + r" : "aOff + r * K + p";
  const bAt = transB ? "bOff + c * K + p" : "bOff + p * N + c";
  return kernelWgsl({
    inputs: [["a", t], ["b", t]],
    outputs: [["o", t]],
    helpers: MATMUL_OFFSETS_WGSL,
    count: "P(5)",
    body: `let M = P(0); let K = P(1); let N = P(2);
  let mn = M * N;
  let bl = i / mn;
  let inMat = i - bl * mn;
  let r = inMat / N;
  let c = inMat - r * N;
  let batch = bl + P(3);
  let offs = matmul_offsets(batch, M, K, N); let aOff = offs.x; let bOff = offs.y;
  var acc = ${t}(0);
  for (var p = 0u; p < K; p++) { acc += a[${aAt}] * b[${bAt}]; }
  o[batch * mn + inMat] = acc;`,
  });
}

/** WGSL of a matmul kernel for dtype `t`, operand layouts and a tile. */
export function matmulCode(
  t: "f32" | "i32",
  transA: boolean,
  transB: boolean,
  tile: MatmulTile,
): string {
  const { bm, bn, bk, tm, tn } = tile;
  const wx = bn / tn, wy = bm / tm, nt = wx * wy;
  const am = bm / 4, an = bn / 4;
  // Tile loads: element e of BM·BK maps to (row, depth) of the A tile (or (depth, col) of B),
  // walking the operand's contiguous axis fastest.
  const loadA = transA
    ? `let p = e / ${bm}u; let r = e % ${bm}u; let gr = row0 + r; let gp = k0 + p;
       var v = ${t}(0); if (gr < M && gp < K) { v = a[aOff + gp * M + gr]; } As[p * ${am}u + r / 4u][r % 4u] = v;`
    : `let r = e / ${bk}u; let p = e % ${bk}u; let gr = row0 + r; let gp = k0 + p;
       var v = ${t}(0); if (gr < M && gp < K) { v = a[aOff + gr * K + gp]; } As[p * ${am}u + r / 4u][r % 4u] = v;`;
  const loadB = transB
    ? `let c = e / ${bk}u; let p = e % ${bk}u; let gc = col0 + c; let gp = k0 + p;
       var v = ${t}(0); if (gc < N && gp < K) { v = b[bOff + gc * K + gp]; } Bs[p * ${an}u + c / 4u][c % 4u] = v;`
    : `let p = e / ${bn}u; let c = e % ${bn}u; let gc = col0 + c; let gp = k0 + p;
       var v = ${t}(0); if (gc < N && gp < K) { v = b[bOff + gp * N + gc]; } Bs[p * ${an}u + c / 4u][c % 4u] = v;`;
  const loadsA = Math.ceil((bm * bk) / nt), loadsB = Math.ceil((bn * bk) / nt);
  const guardA = loadsA * nt > bm * bk ? `if (e < ${bm * bk}u) ` : "";
  const guardB = loadsB * nt > bn * bk ? `if (e < ${bn * bk}u) ` : "";
  const accs: string[] = [];
  for (let i = 0; i < tm; i++) {
    for (let j = 0; j < tn / 4; j++) accs.push(`var c${i}_${j} = vec4<${t}>();`);
  }
  // The depth loop is fully unrolled: every workgroup-memory index is a constant offset
  // from the thread's base, and the compiler keeps the accumulators in registers.
  const comp = ["x", "y", "z", "w"];
  const unroll = tile.unroll ?? true;
  const unrolled: string[] = [
    `let base_a = ty * ${tm / 4}u;`,
    `let base_b = tx * ${tn / 4}u;`,
  ];
  for (let p = 0; p < (unroll ? bk : 1); p++) {
    const inner: string[] = [];
    for (let q = 0; q < tm / 4; q++) inner.push(`let a${q} = As[base_a + ${p * am + q}u];`);
    for (let q = 0; q < tn / 4; q++) inner.push(`let b${q} = Bs[base_b + ${p * an + q}u];`);
    for (let i = 0; i < tm; i++) {
      for (let j = 0; j < tn / 4; j++) {
        inner.push(`c${i}_${j} += a${i >> 2}.${comp[i & 3]} * b${j};`);
      }
    }
    unrolled.push(`{ ${inner.join(" ")} }`);
  }
  if (!unroll) {
    unrolled[2] =
      `for (var p = 0u; p < ${bk}u; p++) { let pa = base_a + p * ${am}u; let pb = base_b + p * ${an}u; ${
        unrolled[2].slice(2, -2).replaceAll("As[base_a + ", "As[pa + ").replaceAll(
          "Bs[base_b + ",
          "Bs[pb + ",
        )
      } }`;
  }
  const stores: string[] = [];
  for (let i = 0; i < tm; i++) {
    const lines: string[] = [];
    for (let j = 0; j < tn / 4; j++) {
      for (let c = 0; c < 4; c++) {
        const off = j * 4 + c;
        lines.push(`if (c0 + ${off}u < N) { o[at + c0 + ${off}u] = c${i}_${j}.${comp[c]}; }`);
      }
    }
    stores.push(
      `{ let gr = r0 + ${i}u; if (gr < M) { let at = oOff + gr * N; ${lines.join(" ")} } }`,
    );
  }
  const head = { a: t, b: t, o: t, tile: `vec4<${t}>`, aTile: bk * am, bTile: bk * an };
  return `${matmulHeadWgsl({ ...head, wx, wy, bm, bn })}
  let tx = lid.x; let ty = lid.y; let tid = ty * ${wx}u + tx;
  ${accs.join(" ")}
  for (var k0 = 0u; k0 < K; k0 += ${bk}u) {
    for (var l = 0u; l < ${loadsA}u; l++) { let e = tid + l * ${nt}u; ${guardA}{ ${loadA} } }
    for (var l = 0u; l < ${loadsB}u; l++) { let e = tid + l * ${nt}u; ${guardB}{ ${loadB} } }
    workgroupBarrier();
    ${unrolled.join("\n    ")}
    workgroupBarrier();
  }
  let r0 = row0 + ty * ${tm}u;
  let c0 = col0 + tx * ${tn}u;
  ${stores.join("\n  ")}
}`;
}

/**
 * The kernel the rules pick for a product (no tuned table): what `matmul` runs when its class
 * has no tuned entry, and the baseline `tuneMatmul` compares against.
 */
export function ruleChoice(
  e: Engine,
  m: number,
  k: number,
  n: number,
  batch: number,
): MatmulChoice {
  if (useDirect(e, m, k, n)) return { kernel: "direct" };
  if (useBig(e, m, k, n, override !== null)) return { kernel: "big" };
  return { kernel: "tile", tile: pickTile(e, m, k, n, batch) };
}

/**
 * Batched op(a) @ op(b) (see MatmulSpec). `choice` runs one kernel regardless of the rules and
 * the tuned table (`tuneMatmul` times candidates with it); without it, a tuned entry for the
 * product's class wins over the rules (see the module doc).
 */
export function matmul(
  e: Engine,
  a: GpuBuffer,
  b: GpuBuffer,
  spec: MatmulSpec,
  dtype: DType,
  choice?: MatmulChoice,
): GpuBuffer {
  const { m, k, n, transA, transB } = spec;
  const batch = sizeOf(spec.outBatch);
  let out = e.alloc("matmul", batch * m * n * 4);
  if (batch * m * n === 0) return out;
  const limit = e.maxStorageBinding, align = e.storageAlign;
  const aBytes = sizeOf(spec.aBatch) * m * k * 4, bBytes = sizeOf(spec.bBatch) * k * n * 4;
  const oBytes = batch * m * n * 4;
  if (aBytes <= limit && bBytes <= limit && oBytes <= limit) {
    record(e, a, b, out, spec, dtype, choice);
    return out;
  }
  // Past the binding limit (language-model logits: tokens × vocabulary), one product is run in
  // windows: of A's and the output's rows, or, when A is read transposed, of the contracted
  // axis (rows of A's and B's storage), whose partial products are summed.
  const whole = batch === 1 && aBytes === m * k * 4 && bBytes === k * n * 4;
  const over = `matmul: ${transA ? "T" : "N"}${transB ? "T" : "N"} ${m}x${k}x${n}` +
    ` (batch ${batch}) exceeds maxStorageBufferBindingSize ${limit}`;
  if (whole && !transA && bBytes <= limit) {
    const per = chunkRows("matmul", m, [k * 4, n * 4], limit, align);
    for (let r0 = 0; r0 < m; r0 += per) {
      const rows = Math.min(per, m - r0);
      record(e, a, b, out, { ...spec, m: rows }, dtype, choice, [
        [r0 * k * 4, rows * k * 4],
        undefined,
        [r0 * n * 4, rows * n * 4],
      ]);
    }
    return out;
  }
  if (whole && transA && !transB && oBytes <= limit) {
    const per = chunkRows("matmul", k, [m * 4, n * 4], limit, align);
    for (let k0 = 0; k0 < k; k0 += per) {
      const depth = Math.min(per, k - k0);
      const part = k0 === 0 ? out : e.alloc("matmul", oBytes);
      record(e, a, b, part, { ...spec, k: depth }, dtype, choice, [
        [k0 * m * 4, depth * m * 4],
        [k0 * n * 4, depth * n * 4],
        undefined,
      ]);
      if (part !== out) {
        const sum = binary(e, "add", out, [m, n], part, [m, n], [m, n], dtype);
        e.release(out);
        e.release(part);
        out = sum;
      }
    }
    return out;
  }
  e.release(out);
  throw new ShapeError(
    `${over}; windows cover one (unbatched) product with A's rows or, for a transposed A and a ` +
      `plain B, the contracted axis`,
  );
}

/** Records op(a) @ op(b) into `out`, through binding `windows` of a, b and out if given. */
function record(
  e: Engine,
  a: GpuBuffer,
  b: GpuBuffer,
  out: GpuBuffer,
  spec: MatmulSpec,
  dtype: DType,
  choice?: MatmulChoice,
  windows?: (BindingWindow | undefined)[],
): void {
  const t = wgslType("matmul", dtype);
  const { m, k, n, transA, transB } = spec;
  const batch = sizeOf(spec.outBatch);
  // Batch strides counted in whole matrices; broadcast batch axes get stride 0.
  const bc = collapse(spec.outBatch, [
    broadcastStrides(spec.aBatch, spec.outBatch),
    broadcastStrides(spec.bBatch, spec.outBatch),
  ]);
  if (bc.shape.length > MAX_BATCH_RANK) {
    throw new ShapeError(`matmul: webgpu handles at most ${MAX_BATCH_RANK} batch axes`);
  }
  const lim = e.maxWorkgroupsPerDim;
  // The parameter block every matmul kernel reads: sizes, first batch, batch shape/strides.
  const batchParams = (z0: number): Uint32Array => {
    const p = params();
    p[0] = m;
    p[1] = k;
    p[2] = n;
    p[3] = z0;
    p[4] = bc.shape.length;
    putWords(p, 8, bc.shape, 8);
    putWords(p, 16, bc.strides[0], 8);
    putWords(p, 24, bc.strides[1], 8);
    return p;
  };
  // Tiled kernels: a [gx, gy] grid of output tiles, batches along z (split at the z limit).
  const dispatchTiles = (kern: ReturnType<Engine["kernel"]>, tileM: number, tileN: number) => {
    const gx = Math.ceil(n / tileN), gy = Math.ceil(m / tileM);
    if (gx > lim || gy > lim) {
      throw new ShapeError(`matmul: output ${m}x${n} is too large for one dispatch on this device`);
    }
    for (let z0 = 0; z0 < batch; z0 += lim) {
      const z = Math.min(lim, batch - z0);
      e.dispatch("matmul", kern, [a, b], [out], batchParams(z0), [gx, gy, z], windows);
    }
  };
  // The tuned table is consulted (and the class recorded) for float32 products whose kernel
  // nothing forces; a tuned "big" entry needs the device limits the rules also check.
  if (
    !choice && dtype === "float32" && !override && bigMatmulForced() === null
  ) {
    const hit = lookupTuned(e.ctx.info, m, k, n, batch, transA, transB, spec.aBatch, spec.bBatch);
    if (hit && (hit.kernel !== "big" || bigMatmulFits(e))) choice = hit;
  }
  if (choice ? choice.kernel === "direct" : useDirect(e, m, k, n)) {
    const kern = e.kernel(
      `matmul_direct_${t}_${transA ? "t" : "n"}${transB ? "t" : "n"}`,
      () => matmulDirectCode(t, transA, transB),
      2,
      1,
    );
    // Batches per dispatch so that the thread count stays within one grid.
    const per = Math.max(1, Math.floor((lim * WG) / (m * n)));
    for (let z0 = 0; z0 < batch; z0 += per) {
      const nb = Math.min(per, batch - z0);
      const p = batchParams(z0);
      p[5] = nb * m * n;
      e.dispatch("matmul", kern, [a, b], [out], p, Math.ceil((nb * m * n) / WG), windows);
    }
    return;
  }
  if (choice ? choice.kernel === "big" : useBig(e, m, k, n, override !== null)) {
    // Vec4 loads along each operand's contiguous axis when it is a multiple of 4 (k = 0 binds
    // scalar arrays: nothing is read).
    const vecA = k > 0 && (transA ? m : k) % 4 === 0;
    const vecB = k > 0 && (transB ? k : n) % 4 === 0;
    const vecO = n % 4 === 0;
    const kern = e.kernel(
      `matmul_big_${t}_${transA ? "t" : "n"}${transB ? "t" : "n"}_${vecA ? 4 : 1}${vecB ? 4 : 1}${
        vecO ? 4 : 1
      }`,
      () => matmulBigCode(t, transA, transB, vecA, vecB, vecO),
      2,
      1,
    );
    return dispatchTiles(kern, 128, 128);
  }
  const tile = choice?.kernel === "tile" ? choice.tile : pickTile(e, m, k, n, batch);
  const kern = e.kernel(
    tileKernelKey(t, transA, transB, tile),
    () => matmulCode(t, transA, transB, tile),
    2,
    1,
  );
  dispatchTiles(kern, tile.bm, tile.bn);
}

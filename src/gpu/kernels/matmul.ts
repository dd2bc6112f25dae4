/**
 * Tiled batched matmul. Each 16x16 workgroup computes a 64x64 tile of the output, each
 * thread a 4x4 block of it (rows 4ty..4ty+3, columns 4tx..4tx+3) held in four vec4
 * accumulators. A and B tiles of depth 16 are staged through workgroup memory;
 * transposed operands only change how a tile is loaded (loads stay coalesced along the
 * contiguous axis), never the inner loop. Batch dims broadcast through per-batch offsets.
 * @module
 */
import type { MatmulSpec } from "../../autograd/backend.ts";
import type { DType } from "../../autograd/dtype.ts";
import { broadcastStrides, sizeOf } from "../../autograd/shape.ts";
import { ShapeError } from "../../autograd/errors.ts";
import type { Engine, GpuBuffer } from "../engine.ts";
import { collapse, paramsWgsl, putWords, wgslType } from "./common.ts";
import { params } from "./elementwise.ts";

const TILE = 64;
const MAX_BATCH_RANK = 8;

function code(t: "f32" | "i32", transA: boolean, transB: boolean): string {
  // Tile loads: element e of 1024 (four per thread) maps to (row, depth) of the A tile or
  // (depth, col) of the B tile, walking the operand's contiguous axis fastest. Tiles are
  // stored as vec4s of four consecutive rows (A) or columns (B) so the inner loop reads one
  // vec4 of each and does 16 multiply-adds on registers.
  const loadA = transA
    ? `let p = e / 64u; let r = e % 64u; let gr = row0 + r; let gp = k0 + p;
       var v = ${t}(0); if (gr < M && gp < K) { v = a[aOff + gp * M + gr]; } As[p * 16u + r / 4u][r % 4u] = v;`
    : `let r = e / 16u; let p = e % 16u; let gr = row0 + r; let gp = k0 + p;
       var v = ${t}(0); if (gr < M && gp < K) { v = a[aOff + gr * K + gp]; } As[p * 16u + r / 4u][r % 4u] = v;`;
  const loadB = transB
    ? `let c = e / 16u; let p = e % 16u; let gc = col0 + c; let gp = k0 + p;
       var v = ${t}(0); if (gc < N && gp < K) { v = b[bOff + gc * K + gp]; } Bs[p * 16u + c / 4u][c % 4u] = v;`
    : `let p = e / 64u; let c = e % 64u; let gc = col0 + c; let gp = k0 + p;
       var v = ${t}(0); if (gc < N && gp < K) { v = b[bOff + gp * N + gc]; } Bs[p * 16u + c / 4u][c % 4u] = v;`;
  const store = (r: number, v: string) =>
    `{ let gr = row0 + ty * 4u + ${r}u;
    if (gr < M) {
      let at = oOff + gr * N;
      if (c0 < N) { o[at + c0] = ${v}.x; }
      if (c0 + 1u < N) { o[at + c0 + 1u] = ${v}.y; }
      if (c0 + 2u < N) { o[at + c0 + 2u] = ${v}.z; }
      if (c0 + 3u < N) { o[at + c0 + 3u] = ${v}.w; }
    } }`;
  return `@group(0) @binding(0) var<storage, read> a: array<${t}>;
@group(0) @binding(1) var<storage, read> b: array<${t}>;
@group(0) @binding(2) var<storage, read_write> o: array<${t}>;
${paramsWgsl(3)}
var<workgroup> As: array<vec4<${t}>, 256>;
var<workgroup> Bs: array<vec4<${t}>, 256>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let M = P(0); let K = P(1); let N = P(2);
  let batch = wid.z + P(3);
  // Batch offsets (in elements) of a and b for this output batch index.
  var rem = batch; var aOff = 0u; var bOff = 0u;
  for (var d = i32(P(4)) - 1; d >= 0; d--) {
    let du = u32(d); let n = P(8u + du); let c = rem % n; rem = rem / n;
    aOff += c * P(16u + du); bOff += c * P(24u + du);
  }
  aOff *= M * K; bOff *= K * N;
  let oOff = batch * M * N;
  let row0 = wid.y * 64u; let col0 = wid.x * 64u;
  let tx = lid.x; let ty = lid.y; let tid = ty * 16u + tx;
  var acc0 = vec4<${t}>(); var acc1 = vec4<${t}>(); var acc2 = vec4<${t}>(); var acc3 = vec4<${t}>();
  for (var k0 = 0u; k0 < K; k0 += 16u) {
    for (var l = 0u; l < 4u; l++) { let e = tid + l * 256u; ${loadA} }
    for (var l = 0u; l < 4u; l++) { let e = tid + l * 256u; ${loadB} }
    workgroupBarrier();
    for (var p = 0u; p < 16u; p++) {
      let av = As[p * 16u + ty];
      let bv = Bs[p * 16u + tx];
      acc0 += av.x * bv; acc1 += av.y * bv; acc2 += av.z * bv; acc3 += av.w * bv;
    }
    workgroupBarrier();
  }
  let c0 = col0 + tx * 4u;
  ${store(0, "acc0")}
  ${store(1, "acc1")}
  ${store(2, "acc2")}
  ${store(3, "acc3")}
}`;
}

/** Batched op(a) @ op(b) (see MatmulSpec). */
export function matmul(
  e: Engine,
  a: GpuBuffer,
  b: GpuBuffer,
  spec: MatmulSpec,
  dtype: DType,
): GpuBuffer {
  const t = wgslType("matmul", dtype);
  const { m, k, n, transA, transB } = spec;
  const batch = sizeOf(spec.outBatch);
  const out = e.alloc("matmul", batch * m * n * 4);
  if (batch * m * n === 0) return out;
  // Batch strides counted in whole matrices; broadcast batch axes get stride 0.
  const bc = collapse(spec.outBatch, [
    broadcastStrides(spec.aBatch, spec.outBatch),
    broadcastStrides(spec.bBatch, spec.outBatch),
  ]);
  if (bc.shape.length > MAX_BATCH_RANK) {
    throw new ShapeError(`matmul: webgpu handles at most ${MAX_BATCH_RANK} batch axes`);
  }
  const gx = Math.ceil(n / TILE), gy = Math.ceil(m / TILE);
  const lim = e.maxWorkgroupsPerDim;
  if (gx > lim || gy > lim) {
    throw new ShapeError(`matmul: output ${m}x${n} is too large for one dispatch on this device`);
  }
  const kern = e.kernel(
    `matmul_${t}_${transA ? "t" : "n"}${transB ? "t" : "n"}`,
    () => code(t, transA, transB),
    2,
    1,
  );
  for (let z0 = 0; z0 < batch; z0 += lim) {
    const p = params();
    p[0] = m;
    p[1] = k;
    p[2] = n;
    p[3] = z0;
    p[4] = bc.shape.length;
    putWords(p, 8, bc.shape, 8);
    putWords(p, 16, bc.strides[0], 8);
    putWords(p, 24, bc.strides[1], 8);
    e.dispatch("matmul", kern, [a, b], [out], p, [gx, gy, Math.min(lim, batch - z0)]);
  }
  return out;
}

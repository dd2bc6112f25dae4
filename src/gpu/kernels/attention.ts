/**
 * Flash-style attention kernels: the `[B, H, T, Tk]` scores are never stored. Each kernel has
 * one thread per row (a query row forward and for dq, a key row for dk and dv) and walks the
 * other side in tiles staged through workgroup memory; the head width d is compiled in, so
 * each thread's rows live in private arrays.
 *
 * - forward: per query row, an online softmax over key tiles (running max and sum, the
 *   accumulator rescaled once a tile), writing out and the row's log-sum-exp;
 * - backward prep: per query row, lse and δ = Σ g ⊙ out side by side (`stats`);
 * - dq: per query row, over key tiles: p = exp(s − lse), ds = p (g·v − δ), dq += ds k;
 * - dk, dv: per key row of a key/value head, over the query rows of every head in its group:
 *   dv += p g, dk += ds q. No atomics: every output row has one writer.
 *
 * The mask is read per score (`[maskBatch, T, Tk]`, maskBatch 0 binds q in its place and
 * reads nothing).
 * @module
 */
import type { AttentionSpec } from "../../autograd/backend.ts";
import type { DType } from "../../autograd/dtype.ts";
import { ShapeError } from "../../autograd/errors.ts";
import type { Engine, GpuBuffer } from "../engine.ts";
import { f32Arrays, f32Bits, type KernelWgsl, kernelWgsl, params, WG, wgslType } from "./common.ts";

/** Threads (rows) per workgroup. */
const ROWS = 64;
/** Widest head the kernels compile for (private arrays of d floats per thread). */
export const ATTENTION_MAX_D = 256;

/**
 * Rows of the other side per staged tile: the largest power of two up to 32 whose two tiles
 * (plus two floats a row) fit WebGPU's guaranteed 16 KiB of workgroup memory.
 */
export function attentionTile(d: number): number {
  let bc = 32;
  while (bc > 1 && bc * (2 * d + 2) * 4 > 16384) bc /= 2;
  return bc;
}

/**
 * Params: T, Tk, H, Hkv, maskBatch, scale bits, first (batch·head) row of this dispatch,
 * (rows, set by the backward), causal.
 */
function attnParams(spec: AttentionSpec, y0: number): Uint32Array {
  const p = params();
  p.set([spec.t, spec.tk, spec.heads, spec.kvHeads, spec.maskBatch, f32Bits(spec.scale), y0]);
  p[8] = spec.causal ? 1 : 0;
  return p;
}

const HEADER = `
  let T = P(0u); let TK = P(1u); let H = P(2u); let HKV = P(3u); let MB = P(4u);
  let scale = Pf(5u); let causal = P(8u) == 1u;`;

/** This row's keys within a tile at j0 of n keys (all n unless causal). */
const VISIBLE = "select(n, u32(clamp(horizon - i32(j0), 0, i32(n))), causal)";

/**
 * A query-row kernel (forward, dq) of `d`-wide rows and key tiles of `bc`: workgroup memory
 * for a tile of keys and values, then `main` (ROWS threads, a row each) that starts with this
 * thread's row and its key/value head, the row's mask offset, and the causal bounds: kEnd
 * (workgroup-uniform: keys past the last row's horizon are never staged) and this row's
 * horizon (one past its last visible key), and goes on with `body`.
 */
function queryRowKernel(
  d: number,
  bc: number,
  arrays: Pick<KernelWgsl, "inputs" | "outputs">,
  body: string,
): string {
  return kernelWgsl({
    ...arrays,
    helpers: `var<workgroup> ks: array<f32, ${bc * d}>;
var<workgroup> vs: array<f32, ${bc * d}>;`,
    grid: "free",
    threads: ROWS,
    body: `${HEADER}
  let bh = wid.y + P(6u);
  let b = bh / H; let hk = (bh % H) / (H / HKV);
  let i = wid.x * ${ROWS}u + lid;
  let live = i < T;
  let row = bh * T + min(i, T - 1u);
  let kvBase = (b * HKV + hk) * TK * ${d}u;
  let mrow = (select(b, 0u, MB == 1u) * T + min(i, T - 1u)) * TK;
  let lastRow = min(wid.x * ${ROWS}u + ${ROWS - 1}u, T - 1u);
  let kEnd = select(TK, min(TK, lastRow + TK - T + 1u), causal);
  let horizon = i32(min(i, T - 1u) + TK - T + 1u);
${body}`,
  });
}

/**
 * Opens a query-row kernel's loop over key tiles: stages keys and values j0 .. j0 + bc into
 * ks and vs (zeros past Tk), then, for a live row, n keys of which this row sees nv. The
 * kernel closes its live block and then the loop with TILE_END.
 */
function keyTiles(d: number, bc: number): string {
  return `for (var j0 = 0u; j0 < kEnd; j0 += ${bc}u) {
    for (var e = lid; e < ${bc * d}u; e += ${ROWS}u) {
      let j = j0 + e / ${d}u;
      var kv = 0.0; var vv = 0.0;
      if (j < TK) { let at = kvBase + j * ${d}u + e % ${d}u; kv = k[at]; vv = v[at]; }
      ks[e] = kv; vs[e] = vv;
    }
    workgroupBarrier();
    if (live) {
      let n = min(${bc}u, TK - j0);
      let nv = ${VISIBLE};`;
}

/** Closes a keyTiles loop, after the kernel's live block. */
const TILE_END = `
    workgroupBarrier();
  }`;

/**
 * Dispatches `kern` over [ceil(n / ROWS), ys] in slices of the y limit; `rows` (the backward's
 * query-row count) goes into params word 7.
 */
function dispatchRows(
  e: Engine,
  op: string,
  kern: ReturnType<Engine["kernel"]>,
  inputs: GpuBuffer[],
  outputs: GpuBuffer[],
  spec: AttentionSpec,
  n: number,
  ys: number,
  rows = 0,
): void {
  const gx = Math.ceil(n / ROWS), lim = e.maxWorkgroupsPerDim;
  if (gx > lim) throw new ShapeError(`${op}: ${n} positions exceed one dispatch on this device`);
  for (let y0 = 0; y0 < ys; y0 += lim) {
    const p = attnParams(spec, y0);
    p[7] = rows;
    e.dispatch(op, kern, inputs, outputs, p, [gx, Math.min(lim, ys - y0), 1]);
  }
}

function forwardCode(d: number, bc: number): string {
  const arrays = { inputs: f32Arrays("q", "k", "v", "mask"), outputs: f32Arrays("o", "lse") };
  return queryRowKernel(
    d,
    bc,
    arrays,
    `  var qr: array<f32, ${d}>;
  var acc: array<f32, ${d}>;
  for (var c = 0u; c < ${d}u; c++) { qr[c] = q[row * ${d}u + c] * scale; }
  var m = -3.0e38;
  var l = 0.0;
  var s: array<f32, ${bc}>;
  ${keyTiles(d, bc)}
      var tmax = -3.0e38;
      for (var jj = 0u; jj < nv; jj++) {
        var dot = 0.0;
        for (var c = 0u; c < ${d}u; c++) { dot += qr[c] * ks[jj * ${d}u + c]; }
        if (MB > 0u) { dot += mask[mrow + j0 + jj]; }
        s[jj] = dot;
        tmax = max(tmax, dot);
      }
      let mnew = max(m, tmax);
      let corr = exp(m - mnew);
      l *= corr;
      for (var c = 0u; c < ${d}u; c++) { acc[c] *= corr; }
      for (var jj = 0u; jj < nv; jj++) {
        let p = exp(s[jj] - mnew);
        l += p;
        for (var c = 0u; c < ${d}u; c++) { acc[c] += p * vs[jj * ${d}u + c]; }
      }
      m = mnew;
    }${TILE_END}
  if (live) {
    for (var c = 0u; c < ${d}u; c++) { o[row * ${d}u + c] = acc[c] / l; }
    lse[row] = m + log(l);
  }`,
  );
}

/** Forward: out `[B, H, T, d]` and lse `[B, H, T]`. */
export function attention(
  e: Engine,
  q: GpuBuffer,
  k: GpuBuffer,
  v: GpuBuffer,
  mask: GpuBuffer | null,
  spec: AttentionSpec,
  dtype: DType,
): { out: GpuBuffer; lse: GpuBuffer } {
  wgslType("attention", dtype);
  const { batch, heads, t, d } = spec;
  checkWidth("attention", d);
  const out = e.alloc("attention", batch * heads * t * d * 4);
  const lse = e.alloc("attention", batch * heads * t * 4);
  if (batch * heads * t === 0) return { out, lse };
  const bc = attentionTile(d);
  const kern = e.kernel(`attention_fwd_d${d}_c${bc}`, () => forwardCode(d, bc), 4, 2);
  dispatchRows(e, "attention", kern, [q, k, v, mask ?? q], [out, lse], spec, t, batch * heads);
  return { out, lse };
}

function checkWidth(op: string, d: number): void {
  if (d > ATTENTION_MAX_D) {
    throw new ShapeError(`${op}: head width ${d} exceeds the fused kernels' ${ATTENTION_MAX_D}`);
  }
}

function prepCode(d: number): string {
  return kernelWgsl({
    inputs: f32Arrays("o", "g", "lse"),
    outputs: f32Arrays("stats"),
    body: `let rows = P(0u);
  var dl = 0.0;
  for (var c = 0u; c < ${d}u; c++) { dl += g[i * ${d}u + c] * o[i * ${d}u + c]; }
  stats[i] = lse[i];
  stats[rows + i] = dl;`,
  });
}

/** The bindings both backward kernels read: q, k, v, mask, the output gradient, stats. */
const BACKWARD_INPUTS = f32Arrays("q", "k", "v", "mask", "g", "stats");

function dqCode(d: number, bc: number): string {
  const arrays = { inputs: BACKWARD_INPUTS, outputs: f32Arrays("dq") };
  return queryRowKernel(
    d,
    bc,
    arrays,
    `  let rows = P(7u);
  var qr: array<f32, ${d}>;
  var gr: array<f32, ${d}>;
  var acc: array<f32, ${d}>;
  for (var c = 0u; c < ${d}u; c++) {
    qr[c] = q[row * ${d}u + c] * scale;
    gr[c] = g[row * ${d}u + c];
  }
  let ls = stats[row];
  let dl = stats[rows + row];
  ${keyTiles(d, bc)}
      for (var jj = 0u; jj < nv; jj++) {
        var sc = 0.0;
        var dp = 0.0;
        for (var c = 0u; c < ${d}u; c++) {
          sc += qr[c] * ks[jj * ${d}u + c];
          dp += gr[c] * vs[jj * ${d}u + c];
        }
        if (MB > 0u) { sc += mask[mrow + j0 + jj]; }
        let ds = exp(sc - ls) * (dp - dl);
        for (var c = 0u; c < ${d}u; c++) { acc[c] += ds * ks[jj * ${d}u + c]; }
      }
    }${TILE_END}
  if (live) {
    for (var c = 0u; c < ${d}u; c++) { dq[row * ${d}u + c] = acc[c] * scale; }
  }`,
  );
}

function dkvCode(d: number, bc: number): string {
  return kernelWgsl({
    inputs: BACKWARD_INPUTS,
    outputs: f32Arrays("dko", "dvo"),
    helpers: `var<workgroup> qs: array<f32, ${bc * d}>;
var<workgroup> gs: array<f32, ${bc * d}>;
var<workgroup> lss: array<f32, ${bc}>;
var<workgroup> dls: array<f32, ${bc}>;`,
    grid: "free",
    threads: ROWS,
    body: `${HEADER}
  let rows = P(7u);
  let bk = wid.y + P(6u);
  let b = bk / HKV; let hk = bk % HKV; let group = H / HKV;
  let j = wid.x * ${ROWS}u + lid;
  let live = j < TK;
  let krow = bk * TK + min(j, TK - 1u);
  var kr: array<f32, ${d}>;
  var vr: array<f32, ${d}>;
  var dk: array<f32, ${d}>;
  var dv: array<f32, ${d}>;
  for (var c = 0u; c < ${d}u; c++) {
    kr[c] = k[krow * ${d}u + c] * scale;
    vr[c] = v[krow * ${d}u + c];
  }
  let mcol = select(b, 0u, MB == 1u) * T * TK + min(j, TK - 1u);
  // Causal: query i sees key j when i >= j - (TK - T); queries before the workgroup's first
  // key's first query are skipped by the whole workgroup, later ones row by row per thread.
  let firstKey = wid.x * ${ROWS}u;
  let iStart = select(0u, u32(max(i32(firstKey) - i32(TK - T), 0)), causal);
  for (var hh = 0u; hh < group; hh++) {
    let bh = b * H + hk * group + hh;
    for (var i0 = iStart; i0 < T; i0 += ${bc}u) {
      for (var e = lid; e < ${bc * d}u; e += ${ROWS}u) {
        let i = i0 + e / ${d}u;
        var qv = 0.0; var gv = 0.0;
        if (i < T) { let at = (bh * T + i) * ${d}u + e % ${d}u; qv = q[at]; gv = g[at]; }
        qs[e] = qv; gs[e] = gv;
      }
      for (var e = lid; e < ${bc}u; e += ${ROWS}u) {
        let i = i0 + e;
        var lv = 0.0; var dlv = 0.0;
        if (i < T) { lv = stats[bh * T + i]; dlv = stats[rows + bh * T + i]; }
        lss[e] = lv; dls[e] = dlv;
      }
      workgroupBarrier();
      if (live) {
        let n = min(${bc}u, T - i0);
        let lo = select(0u, u32(clamp(i32(j) - i32(TK - T) - i32(i0), 0, i32(n))), causal);
        for (var ii = lo; ii < n; ii++) {
          var sc = 0.0;
          var dp = 0.0;
          for (var c = 0u; c < ${d}u; c++) {
            sc += qs[ii * ${d}u + c] * kr[c];
            dp += gs[ii * ${d}u + c] * vr[c];
          }
          if (MB > 0u) { sc += mask[mcol + (i0 + ii) * TK]; }
          let p = exp(sc - lss[ii]);
          let ds = p * (dp - dls[ii]);
          for (var c = 0u; c < ${d}u; c++) {
            dv[c] += p * gs[ii * ${d}u + c];
            dk[c] += ds * qs[ii * ${d}u + c];
          }
        }
      }
      workgroupBarrier();
    }
  }
  if (live) {
    for (var c = 0u; c < ${d}u; c++) {
      dko[krow * ${d}u + c] = dk[c] * scale;
      dvo[krow * ${d}u + c] = dv[c];
    }
  }`,
  });
}

/** Backward: dq `[B, H, T, d]`, dk and dv `[B, Hkv, Tk, d]`. */
export function attentionGrad(
  e: Engine,
  q: GpuBuffer,
  k: GpuBuffer,
  v: GpuBuffer,
  mask: GpuBuffer | null,
  out: GpuBuffer,
  lse: GpuBuffer,
  g: GpuBuffer,
  spec: AttentionSpec,
  dtype: DType,
): { dq: GpuBuffer; dk: GpuBuffer; dv: GpuBuffer } {
  wgslType("attentionGrad", dtype);
  const { batch, heads, kvHeads, t, tk, d } = spec;
  checkWidth("attentionGrad", d);
  const rows = batch * heads * t;
  const dq = e.alloc("attentionGrad", rows * d * 4);
  const dk = e.alloc("attentionGrad", batch * kvHeads * tk * d * 4);
  const dv = e.alloc("attentionGrad", batch * kvHeads * tk * d * 4);
  if (rows === 0 || tk === 0) return { dq, dk, dv };
  const bc = attentionTile(d);
  const stats = e.alloc("attentionGrad", 2 * rows * 4);
  const prep = e.kernel(`attention_prep_d${d}`, () => prepCode(d), 3, 1);
  const pp = params();
  pp[0] = rows;
  e.dispatch("attentionGrad", prep, [out, g, lse], [stats], pp, Math.ceil(rows / WG));
  const m = mask ?? q, ins = [q, k, v, m, g, stats];
  const dqK = e.kernel(`attention_dq_d${d}_c${bc}`, () => dqCode(d, bc), 6, 1);
  dispatchRows(e, "attentionGrad", dqK, ins, [dq], spec, t, batch * heads, rows);
  const dkvK = e.kernel(`attention_dkv_d${d}_c${bc}`, () => dkvCode(d, bc), 6, 2);
  dispatchRows(e, "attentionGrad", dkvK, ins, [dk, dv], spec, tk, batch * kvHeads, rows);
  e.release(stats);
  return { dq, dk, dv };
}

/**
 * The CPU backend's fused attention: plain loops, float64 accumulation, one query row at a
 * time (the reference the WebGPU kernels are tested against, and what the float64 gradient
 * checks run). Scores are computed per row and never stored for the whole matrix.
 * @module
 */
import type { AttentionSpec } from "../autograd/backend.ts";
import { allocArray, type DType, type TypedArray } from "../autograd/dtype.ts";

type Buf = TypedArray;

/** Scores of query row (bq, hq, i) against every key of its key/value head, into `s`. */
function rowScores(
  s: Float64Array,
  q: Buf,
  k: Buf,
  mask: Buf | null,
  spec: AttentionSpec,
  bq: number,
  hq: number,
  i: number,
): void {
  const { heads, kvHeads, t, tk, d, scale, maskBatch, causal } = spec;
  const hk = Math.floor(hq / (heads / kvHeads));
  const qo = ((bq * heads + hq) * t + i) * d;
  const ko = (bq * kvHeads + hk) * tk * d;
  const mo = maskBatch > 0 ? ((maskBatch === 1 ? 0 : bq) * t + i) * tk : -1;
  // Causal: keys after i + (Tk − T) are out of the softmax (exp(−∞) = 0).
  const last = causal ? i + tk - t : tk - 1;
  for (let j = 0; j < tk; j++) {
    if (j > last) {
      s[j] = -Infinity;
      continue;
    }
    let dot = 0;
    for (let c = 0; c < d; c++) dot += q[qo + c] * k[ko + j * d + c];
    s[j] = dot * scale + (mo >= 0 ? mask![mo + j] : 0);
  }
}

/** Forward: out `[B, H, T, d]` and the log-sum-exp of each row's scores `[B, H, T]`. */
export function attentionForward(
  q: Buf,
  k: Buf,
  v: Buf,
  mask: Buf | null,
  spec: AttentionSpec,
  dtype: DType,
  alloc: (dtype: DType, n: number) => Buf = allocArray,
): { out: Buf; lse: Buf } {
  const { batch, heads, kvHeads, t, tk, d } = spec;
  const out = alloc(dtype, batch * heads * t * d), lse = alloc(dtype, batch * heads * t);
  const s = new Float64Array(tk), acc = new Float64Array(d);
  for (let bq = 0; bq < batch; bq++) {
    for (let hq = 0; hq < heads; hq++) {
      const vo = (bq * kvHeads + Math.floor(hq / (heads / kvHeads))) * tk * d;
      for (let i = 0; i < t; i++) {
        rowScores(s, q, k, mask, spec, bq, hq, i);
        let mx = -Infinity;
        for (let j = 0; j < tk; j++) if (s[j] > mx || s[j] !== s[j]) mx = s[j];
        if (mx === -Infinity) mx = 0; // a row of -Infinity: 0 / 0 below, as softmax gives
        let l = 0;
        acc.fill(0);
        for (let j = 0; j < tk; j++) {
          const p = Math.exp(s[j] - mx);
          l += p;
          for (let c = 0; c < d; c++) acc[c] += p * v[vo + j * d + c];
        }
        const row = (bq * heads + hq) * t + i;
        for (let c = 0; c < d; c++) out[row * d + c] = acc[c] / l;
        lse[row] = mx + Math.log(l);
      }
    }
  }
  return { out, lse };
}

/**
 * Backward: with p = exp(s − lse) and δ = rowsum(g ⊙ out), ds = p (g·v − δ);
 * dq = scale · ds k, dk = scale · dsᵀ q, dv = pᵀ g (dk, dv summed over a group's heads).
 */
export function attentionBackward(
  q: Buf,
  k: Buf,
  v: Buf,
  mask: Buf | null,
  out: Buf,
  lse: Buf,
  g: Buf,
  spec: AttentionSpec,
  dtype: DType,
  alloc: (dtype: DType, n: number) => Buf = allocArray,
): { dq: Buf; dk: Buf; dv: Buf } {
  const { batch, heads, kvHeads, t, tk, d, scale } = spec;
  const dq = alloc(dtype, q.length);
  const dk64 = new Float64Array(k.length), dv64 = new Float64Array(v.length);
  const s = new Float64Array(tk), dqRow = new Float64Array(d);
  for (let bq = 0; bq < batch; bq++) {
    for (let hq = 0; hq < heads; hq++) {
      const kvo = (bq * kvHeads + Math.floor(hq / (heads / kvHeads))) * tk * d;
      for (let i = 0; i < t; i++) {
        const row = (bq * heads + hq) * t + i, ro = row * d;
        rowScores(s, q, k, mask, spec, bq, hq, i);
        let delta = 0;
        for (let c = 0; c < d; c++) delta += g[ro + c] * out[ro + c];
        dqRow.fill(0);
        for (let j = 0; j < tk; j++) {
          const p = Math.exp(s[j] - lse[row]);
          const jo = kvo + j * d;
          let dp = 0;
          for (let c = 0; c < d; c++) dp += g[ro + c] * v[jo + c];
          const ds = p * (dp - delta);
          for (let c = 0; c < d; c++) {
            dqRow[c] += ds * k[jo + c];
            dk64[jo + c] += ds * q[ro + c];
            dv64[jo + c] += p * g[ro + c];
          }
        }
        for (let c = 0; c < d; c++) dq[ro + c] = dqRow[c] * scale;
      }
    }
  }
  const dk = alloc(dtype, k.length), dv = alloc(dtype, v.length);
  for (let i = 0; i < dk.length; i++) dk[i] = dk64[i] * scale;
  dv.set(dv64);
  return { dq, dk, dv };
}

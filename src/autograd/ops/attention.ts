/**
 * Scaled dot-product attention as one op: softmax(q kᵀ · scale + mask) v over heads, with
 * grouped-query heads. On a backend with the fused primitives (WebGPU) it runs flash style:
 * the `[B, H, T, Tk]` scores never exist in memory, forward or backward (the backward
 * recomputes them from q, k and each row's log-sum-exp). Elsewhere, or when fused ops are off
 * (`fusedPolicy`, `LOSSFORGE_FUSED=0`), it is the composed matmul-softmax-matmul, which is also its
 * reference in tests.
 * @module
 */
import type { AttentionSpec } from "../backend.ts";
import { DTypeError, fmtShape, ShapeError } from "../errors.ts";
import { fusedPolicy } from "../fused.ts";
import { isRecording, record, sumToShape } from "../tape.ts";
import { fromBuffer, type Tensor } from "../tensor.ts";
import { backendOf, needFloat } from "./core.ts";
import { add, mul, sub } from "./elementwise.ts";
import { tensor } from "../create.ts";
import { matmul } from "./matmul.ts";
import { sum } from "./reduce.ts";
import { softmax } from "./softmax.ts";

let preference: boolean | null = null;

/**
 * Chooses fused or composed attention for every `scaledDotProductAttention` (and so every
 * model's attention) that does not say itself; null restores each backend's own preference
 * (fused on GPUs, composed on the CPU and on software adapters). Benchmarks compare the two
 * this way.
 *
 * @example
 * ```ts
 * import { randn, scaledDotProductAttention, setFusedAttention } from "@lossforge/core";
 * const q = randn([1, 2, 3, 4]);
 * setFusedAttention(false); // composed matmul-softmax-matmul everywhere
 * const composed = scaledDotProductAttention(q, q, q, { causal: true });
 * setFusedAttention(null); // back to each backend's own choice
 * console.log(composed.shape); // [1, 2, 3, 4]
 * ```
 */
export function setFusedAttention(on: boolean | null): void {
  preference = on;
}

/** Widest head the fused path takes (the WebGPU kernels hold d floats per row per thread). */
const FUSED_MAX_D = 256;

/**
 * Options of `scaledDotProductAttention`.
 *
 * @example
 * ```ts
 * import {
 *   type AttentionOpOptions,
 *   randn,
 *   scaledDotProductAttention,
 *   zeros,
 * } from "@lossforge/core";
 * const q = randn([1, 2, 3, 4]); // [B, H, T, d]
 * const opts: AttentionOpOptions = { mask: zeros([3, 3]), scale: 0.5, causal: true, fused: false };
 * console.log(scaledDotProductAttention(q, q, q, opts).shape); // [1, 2, 3, 4]
 * ```
 */
export interface AttentionOpOptions {
  /**
   * Additive mask broadcast over heads: `[B or 1, 1, T, Tk]` or `[T, Tk]` (0 where a key may
   * be seen, very negative elsewhere). Other shapes that broadcast to `[B, H, T, Tk]` run the
   * composed path.
   */
  mask?: Tensor;
  /** Multiplier of q kᵀ (default 1/√d). */
  scale?: number;
  /**
   * Causal attention: query i sees keys j ≤ i + (Tk − T) only (needs Tk ≥ T; with a cache of
   * P past positions, Tk = P + T), in addition to `mask`. The fused kernels skip the hidden
   * keys (about half the work at Tk = T); the composed form adds a −∞ bias.
   */
  causal?: boolean;
  /**
   * Use the fused kernels (default: `setFusedAttention`'s choice, else where the backend
   * prefers them: WebGPU on a hardware adapter; the CPU backend's fused loops are a scalar
   * reference, slower than its composed path, and on software adapters the fused kernels
   * ran 2-4.5x slower than the composed form).
   */
  fused?: boolean;
}

/**
 * The composed form: q folded to `[B, Hkv, group·T, d]` so that each group of query heads
 * reads its key/value head without copies. `onProbs` sees the probabilities (dropout).
 * @internal
 */
export function composedAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask: Tensor | undefined,
  scale: number,
  onProbs: (p: Tensor) => Tensor = (p) => p,
  causal = false,
): Tensor {
  const [b, h, t] = q.shape;
  const tk = k.shape[2], dv = v.shape[3];
  const { p } = groupedProbs(q, k, mask, scale, causal);
  const probs = onProbs(p.reshape([b, h, t, tk])).reshape(p.shape);
  return matmul(probs, v).reshape([b, h, t, dv]);
}

/**
 * softmax(q kᵀ · scale + mask (+ the causal bias)) with each group of query heads folded into
 * the row axis, `[B, Hkv, group·T, Tk]`, and the folded q.
 */
function groupedProbs(
  q: Tensor,
  k: Tensor,
  mask: Tensor | undefined,
  scale: number,
  causal: boolean,
): { qg: Tensor; p: Tensor } {
  const [b, h, t, d] = q.shape;
  const hkv = k.shape[1], tk = k.shape[2], rows = (h / hkv) * t;
  const qg = q.reshape([b, hkv, rows, d]);
  let scores = mul(matmul(qg, k, { transposeB: true }), scale);
  const bias = withCausal(mask, causal, q, t, tk);
  if (bias) scores = scores.reshape([b, h, t, tk]).add(bias).reshape([b, hkv, rows, tk]);
  return { qg, p: softmax(scores, -1) };
}

/**
 * `mask` plus, when causal, a `[1, 1, T, Tk]` bias of −∞ on the keys after i + (Tk − T).
 */
function withCausal(
  mask: Tensor | undefined,
  causal: boolean,
  like: Tensor,
  t: number,
  tk: number,
): Tensor | undefined {
  if (!causal) return mask;
  const c = new Float64Array(t * tk);
  for (let i = 0; i < t; i++) for (let j = i + tk - t + 1; j < tk; j++) c[i * tk + j] = -Infinity;
  const bias = tensor(c, { shape: [1, 1, t, tk], dtype: like.dtype, backend: like.backend.name });
  return mask ? add(mask, bias) : bias;
}

/** The gradient of the composed form, in differentiable ops (for gradients of gradients). */
function composedGrad(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask: Tensor | undefined,
  scale: number,
  causal: boolean,
  g: Tensor,
): [Tensor, Tensor, Tensor, Tensor | null] {
  const [b, h, t] = q.shape;
  const tk = k.shape[2];
  const { qg, p } = groupedProbs(q, k, mask, scale, causal);
  const gg = g.reshape([...p.shape.slice(0, 3), v.shape[3]]);
  const dv = matmul(p, gg, { transposeA: true });
  const dp = matmul(gg, v, { transposeB: true });
  const ds = mul(p, sub(dp, sum(mul(dp, p), -1, true)));
  const dq = mul(matmul(ds, k), scale).reshape(q.shape);
  const dk = mul(matmul(ds, qg, { transposeA: true }), scale);
  const dmask = mask?._requiresGrad ? sumToShape(ds.reshape([b, h, t, tk]), mask.shape) : null;
  return [dq, dk, dv, dmask];
}

/**
 * softmax(q kᵀ · scale + mask) v for q `[B, H, T, d]`, k `[B, Hkv, Tk, d]` and v
 * `[B, Hkv, Tk, dv]` with H a multiple of Hkv (query head h reads key/value head
 * ⌊h / (H / Hkv)⌋, as torch's `repeat_interleave`); returns `[B, H, T, dv]`.
 *
 * Backward (with p = softmax(s), s = q kᵀ · scale + mask): dv = pᵀ g,
 * ds = p ⊙ (g vᵀ − rowsum(g vᵀ ⊙ p)), dq = ds k · scale, dk = dsᵀ q · scale; the fused
 * kernels get rowsum(g vᵀ ⊙ p) as rowsum(g ⊙ out) and p from the saved log-sum-exp.
 *
 * @example
 * ```ts
 * import { randn, scaledDotProductAttention } from "@lossforge/core";
 * const q = randn([1, 4, 3, 8]), kv = randn([1, 2, 3, 8]);
 * console.log(scaledDotProductAttention(q, kv, kv, { causal: true }).shape); // [1, 4, 3, 8]
 * ```
 */
export function scaledDotProductAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: AttentionOpOptions = {},
): Tensor {
  const op = "scaledDotProductAttention";
  const mask = opts.mask;
  const b = backendOf(op, q, k, v, ...(mask ? [mask] : []));
  needFloat(op, q);
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) {
    throw new ShapeError(
      `${op}: q, k and v must be [B, heads, T, d], got ${fmtShape(q.shape)}, ${
        fmtShape(k.shape)
      }, ${fmtShape(v.shape)}`,
    );
  }
  const [batch, heads, t, d] = q.shape;
  const [kb, kvHeads, tk, kd] = k.shape;
  if (
    kb !== batch || v.shape[0] !== batch || v.shape[1] !== kvHeads || v.shape[2] !== tk ||
    kd !== d || kvHeads === 0 || heads % kvHeads !== 0
  ) {
    throw new ShapeError(
      `${op}: q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)} do not ` +
        `fit (same batch, k and v with the same heads and positions, k's width that of q, ` +
        `query heads a multiple of key/value heads)`,
    );
  }
  if (q.dtype !== k.dtype || q.dtype !== v.dtype || (mask && mask.dtype !== q.dtype)) {
    throw new DTypeError(
      `${op}: q, k, v (and mask) must share a dtype, got ${q.dtype}, ${k.dtype}, ${v.dtype}` +
        (mask ? `, ${mask.dtype}` : ""),
    );
  }
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  const causal = opts.causal ?? false;
  if (causal && tk < t) {
    throw new ShapeError(
      `${op}: causal attention needs at least as many keys as queries, got T ${t}, Tk ${tk}`,
    );
  }
  // The mask as [maskBatch, T, Tk] when the fused kernels can read it.
  let maskBatch = 0;
  if (mask) {
    const s = mask.shape;
    if (s.length === 2 && s[0] === t && s[1] === tk) maskBatch = 1;
    else if (
      s.length === 4 && (s[0] === 1 || s[0] === batch) && s[1] === 1 && s[2] === t &&
      s[3] === tk
    ) maskBatch = s[0];
    else maskBatch = -1;
  }
  const fused = fusedPolicy.choose(
    "attention",
    opts.fused ?? preference ?? undefined,
    b.prefersFusedAttention ?? false,
  ) &&
    !!b.attention && !!b.attentionGrad && maskBatch >= 0 && v.shape[3] === d &&
    batch * heads * t > 0 && tk > 0 && d > 0 && d <= FUSED_MAX_D;
  if (!fused) return composedAttention(q, k, v, mask, scale, undefined, causal);

  const spec: AttentionSpec = { batch, heads, kvHeads, t, tk, d, scale, maskBatch, causal };
  const r = b.attention!(q.buf, k.buf, v.buf, mask ? mask.buf : null, spec, q.dtype);
  const out = fromBuffer(b, r.out, [batch, heads, t, d], q.dtype);
  const lse = fromBuffer(b, r.lse, [batch, heads, t], q.dtype);
  const inputs = mask ? [q, k, v, mask] : [q, k, v];
  const res = record("attention", out, inputs, (g) => {
    if (isRecording() || g.dtype !== q.dtype || mask?._requiresGrad) {
      const [dq, dk, dv, dm] = composedGrad(q, k, v, mask, scale, causal, g);
      return mask ? [dq, dk, dv, dm] : [dq, dk, dv];
    }
    const m = mask ? mask.buf : null;
    const gr = b.attentionGrad!(q.buf, k.buf, v.buf, m, out.buf, lse.buf, g.buf, spec, q.dtype);
    const grads = [
      fromBuffer(b, gr.dq, q.shape, q.dtype),
      fromBuffer(b, gr.dk, k.shape, q.dtype),
      fromBuffer(b, gr.dv, v.shape, q.dtype),
    ];
    return mask ? [...grads, null] : grads;
  });
  // Not recorded (no gradient wanted): the saved log-sum-exp is not needed.
  if (!res._node) lse.dispose();
  return res;
}

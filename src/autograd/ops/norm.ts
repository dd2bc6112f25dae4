/**
 * Layer norm over the last axis as one op: one fused kernel forward and one (two dispatches)
 * backward on backends that have them, instead of about ten ops forward and twenty back.
 * The backward rule falls back to composed ops when the backward pass is itself being
 * differentiated, and the whole op to the composed formula when fused ops are off
 * (`fusedPolicy`, `LOSSFORGE_FUSED=0`) or the backend lacks the primitives.
 * @module
 */
import { isFloat } from "../dtype.ts";
import { fusedPolicy } from "../fused.ts";
import { isRecording, record, sumToShape } from "../tape.ts";
import { fromBuffer, type Tensor } from "../tensor.ts";
import { backendOf } from "./core.ts";
import { add, mul, rsqrt, square, sub } from "./elementwise.ts";
import { mean } from "./reduce.ts";

/** The composed formula, in Hugging Face's order of operations. */
function composed(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  const mu = mean(x, -1, true);
  const centred = sub(x, mu);
  const variance = mean(square(centred), -1, true);
  return add(mul(mul(centred, rsqrt(add(variance, eps))), weight), bias);
}

/**
 * (x − mean) / √(var + eps) · weight + bias over the last axis (biased variance, as torch),
 * for weight and bias of shape `[x.shape[-1]]`. Same values as the composed ops, within
 * float rounding.
 *
 * @example
 * ```ts
 * import { fusedLayerNorm, ones, tensor, zeros } from "@lossforge/core";
 * const y = fusedLayerNorm(tensor([[1, 3]]), ones([2]), zeros([2]), 1e-5);
 * console.log(await y.array()); // ≈ [[-1, 1]]
 * ```
 */
export function fusedLayerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  const b = backendOf("layerNorm", x, weight, bias);
  const cols = x.rank ? x.shape[x.rank - 1] : 0;
  const fits = x.rank >= 1 && isFloat(x.dtype) && weight.rank === 1 && bias.rank === 1 &&
    weight.shape[0] === cols && bias.shape[0] === cols && weight.dtype === x.dtype &&
    bias.dtype === x.dtype && cols > 0;
  if (!fits || !b.layerNorm || !b.layerNormGrad || !fusedPolicy.choose("layerNorm")) {
    return composed(x, weight, bias, eps);
  }
  const rows = x.size / cols;
  const r = b.layerNorm(x.buf, weight.buf, bias.buf, rows, cols, eps, x.dtype);
  const y = fromBuffer(b, r.y, x.shape, x.dtype);
  const mu = fromBuffer(b, r.mean, [rows], x.dtype);
  const rstd = fromBuffer(b, r.rstd, [rows], x.dtype);
  // mean and rstd live as long as y's tape node (they are freed with the step's scope).
  const out = record("layerNorm", y, [x, weight, bias], (g) => {
    if (isRecording() || g.dtype !== x.dtype) {
      // Differentiable form of the same gradient (for gradients of gradients).
      const m = mean(x, -1, true);
      const xc = sub(x, m);
      const rs = rsqrt(add(mean(square(xc), -1, true), eps));
      const xhat = mul(xc, rs);
      const gh = mul(g, weight);
      const dx = mul(
        rs,
        sub(sub(gh, mean(gh, -1, true)), mul(xhat, mean(mul(gh, xhat), -1, true))),
      );
      return [
        dx,
        weight._requiresGrad ? sumToShape(mul(g, xhat), weight.shape) : null,
        bias._requiresGrad ? sumToShape(g, bias.shape) : null,
      ];
    }
    const d = b.layerNormGrad!(g.buf, x.buf, weight.buf, mu.buf, rstd.buf, rows, cols, x.dtype);
    return [
      fromBuffer(b, d.dx, x.shape, x.dtype),
      fromBuffer(b, d.dw, weight.shape, x.dtype),
      fromBuffer(b, d.db, bias.shape, x.dtype),
    ];
  });
  if (!out._node) {
    // Not recorded (no gradient wanted): the saved statistics are not needed.
    mu.dispose();
    rstd.dispose();
  }
  return out;
}

/**
 * Softmax and logSoftmax as primitives (one stable kernel each), with their backward rules.
 * @module
 */
import { normAxis } from "../shape.ts";
import { fusedPolicy } from "../fused.ts";
import { isRecording, record } from "../tape.ts";
import { fromBuffer, type Tensor } from "../tensor.ts";
import { needFloat } from "./core.ts";
import { exp, mul, sub } from "./elementwise.ts";
import { sum } from "./reduce.ts";

function raw(x: Tensor, axis: number, log: boolean): Tensor {
  const b = x.backend;
  return fromBuffer(b, b.softmax(x.buf, x.shape, axis, log, x.dtype), x.shape, x.dtype);
}

/**
 * softmax(x)_i = exp(x_i - max) / Σ_j exp(x_j - max) along `axis`.
 * Backward: s ⊙ (g - Σ g ⊙ s).
 * @example
 * ```ts
 * import { softmax, tensor } from "@lossforge/core";
 * const logits = tensor([[0, 0], [0, Math.log(3)]]);
 * console.log(await softmax(logits).array()); // ≈ [[0.5, 0.5], [0.25, 0.75]]
 * ```
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  needFloat("softmax", x);
  const ax = normAxis("softmax", axis, x.rank);
  const s = raw(x, ax, false);
  return record("softmax", s, [x], (g) => {
    const b = x.backend;
    if (
      b.softmaxGrad && ax === x.rank - 1 && fusedPolicy.choose("softmaxGrad") && !isRecording() &&
      g.dtype === s.dtype
    ) {
      const cols = x.shape[ax], rows = cols === 0 ? 0 : x.size / cols;
      return [fromBuffer(b, b.softmaxGrad(s.buf, g.buf, rows, cols, x.dtype), x.shape, x.dtype)];
    }
    return [mul(s, sub(g, sum(mul(g, s), ax, true)))];
  });
}

/**
 * log softmax(x) = x - logsumexp(x) along `axis`, computed stably.
 * Backward: g - softmax(x) ⊙ Σ g.
 * @example
 * ```ts
 * import { logSoftmax, tensor } from "@lossforge/core";
 * console.log(await logSoftmax(tensor([0, 0])).array()); // [-log 2, -log 2] ≈ [-0.6931, -0.6931]
 * ```
 */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  needFloat("logSoftmax", x);
  const ax = normAxis("logSoftmax", axis, x.rank);
  const ls = raw(x, ax, true);
  return record("logSoftmax", ls, [x], (g) => [sub(g, mul(exp(ls), sum(g, ax, true)))]);
}

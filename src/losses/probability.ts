/**
 * The probability family of "Beyond Log Likelihood" (Li et al. 2025, arXiv 2510.00526):
 * (1 - p_t^a) / a per token, from cross-entropy (a -> 0) to 1 - p_t (a = 1).
 * @module
 */
import {
  gather,
  gt,
  logSoftmax,
  reshape,
  tanh,
  type Tensor,
  unsqueeze,
  where,
} from "../autograd/mod.ts";
import {
  type BaseLossOptions,
  checkNumber,
  checkOptionNames,
  type LossFn,
  type Reduction,
} from "./_common.ts";
import { TARGET_OPTION_NAMES, targetLoss, targetReduction } from "./_target.ts";

/**
 * Options of `probabilityLoss`.
 *
 * @example
 * ```ts
 * import { probabilityLoss, type ProbabilityLossOptions, tensor } from "@lossforge/core";
 * const logits = tensor([[0, 0]]), targets = tensor([0], { dtype: "int32" }); // p_t = 1/2
 * const f = (o: ProbabilityLossOptions) => probabilityLoss(o)(logits, targets).item();
 * console.log(await f({ a: 1 }), await f({ a: 0.5 }), await f({ a: 0 })); // 0.5 ≈ 0.5858 ≈ 0.6931
 * ```
 */
export interface ProbabilityLossOptions extends BaseLossOptions {
  /** The exponent a >= 0 (default 1: 1 - p_t; 0: cross-entropy, -log p_t). */
  a?: number;
  /** How to reduce over positions (default "mean"). */
  reduction?: Reduction;
  /** Use the fused WebGPU kernel where it applies (default true; see `crossEntropy`). */
  fused?: boolean;
}

/**
 * (exp(x) - 1) / x for x <= 0, with its digits at every scale: a short series where |x| is
 * small (exp(x) - 1 cancels there, and a · log p_t underflows for tiny a), else expm1(x) / x
 * with expm1(x) = 2 tanh(x/2) / (1 - tanh(x/2)), exact algebraically. The series branch sees
 * a safe stand-in x = -1, so neither branch makes a NaN the other's gradient would multiply.
 */
function expm1OverX(x: Tensor): Tensor {
  const small = gt(x, -1e-5);
  const xs = where(small, -1, x);
  const t = tanh(xs.mul(0.5));
  const far = t.mul(2).div(t.neg().add(1)).div(xs);
  const near = x.mul(x.mul(x.div(24).add(1 / 6)).add(0.5)).add(1); // 1 + x/2 + x²/6 + x³/24
  return where(small, near, far);
}

/**
 * Per-position values `[N]` of the probability family from `[N, C]` logits and safe targets
 * `[N]`: (1 - p_t^a) / a = -log p_t · expm1(a log p_t) / (a log p_t), and -log p_t at a = 0.
 */
export function probabilityLossPerPosition(logits: Tensor, targets: Tensor, a: number): Tensor {
  const logpt = reshape(gather(logSoftmax(logits), 1, unsqueeze(targets, -1)), [targets.size]);
  if (a === 0) return logpt.neg();
  return logpt.neg().mul(expm1OverX(logpt.mul(a)));
}

/**
 * The probability family of "Beyond Log Likelihood: Probability-Based Objectives for
 * Supervised Fine-Tuning across the Model Capability Continuum" (Li et al. 2025, arXiv
 * 2510.00526): per position i, (1 - p_{i,t_i}^a) / a with p = softmax(z) and a = `a`
 * (default 1). a = 1 gives 1 - p_t; as a -> 0 it tends to -log p_t, and a = 0 is exactly
 * cross-entropy (value and gradient). It is computed as
 * -log p_t · (p_t^a - 1) / (a log p_t), the second factor by a series near 0, so small a
 * keeps its digits. Its gradient is p_t^a times cross-entropy's, p_t^a (p_i - y_i), so larger
 * a trusts the model's prior more: tokens it finds unlikely pull less. Each value lies in
 * [0, 1/a] and falls as p_t rises. Reduced by the mean over the counted positions M
 * (`reduction: "sum"` or `"none"` as for `crossEntropy`); 0 with zero gradient when M is
 * empty. Registry name `prob`.
 *
 * `masking: "paper"`: the family is not in the code published with the paper; it follows that
 * code's convention for its per-position losses (focal, Self-Adjusting Dice): an ignored
 * position keeps counting with zero logits and target 0, so p_t = 1/C there; it adds
 * (1 - C^-a) / a (log C at a = 0; no gradient) and the mean runs over every position.
 *
 * @example
 * ```ts
 * import { probabilityLoss, tensor } from "@lossforge/core";
 * const logits = tensor([[Math.log(3), 0]]); // p_t = 3/4
 * const targets = tensor([0], { dtype: "int32" });
 * console.log(await probabilityLoss({ a: 1 })(logits, targets).item()); // 1 - 3/4 = 0.25
 * ```
 */
export function probabilityLoss(options: ProbabilityLossOptions = {}): LossFn {
  checkOptionNames("probabilityLoss", options, [...TARGET_OPTION_NAMES, "a"]);
  const a = options.a ?? 1;
  checkNumber("probabilityLoss", "a", a);
  return targetLoss({
    loss: "probabilityLoss",
    name: `probabilityLoss(a=${a})`,
    options,
    reduction: targetReduction("probabilityLoss", options),
    settings: { kind: "probability", alpha: a },
    composed: (z, t) => probabilityLossPerPosition(z, t, a),
    paperZeroRows: true,
  });
}

/**
 * Dynamic Fine-Tuning, DFT (Wu et al. 2025, arXiv 2508.05629): cross-entropy scaled per token
 * by the token's own probability, the scale held constant when differentiating.
 * @module
 */
import {
  exp,
  gather,
  logSoftmax,
  reshape,
  stopGradient,
  type Tensor,
  unsqueeze,
} from "../autograd/mod.ts";
import { type BaseLossOptions, checkOptionNames, type LossFn, type Reduction } from "./_common.ts";
import { TARGET_OPTION_NAMES, targetLoss, targetReduction } from "./_target.ts";

/**
 * Options of `dynamicFineTuning`.
 *
 * @example
 * ```ts
 * import { dynamicFineTuning, type DynamicFineTuningOptions, tensor } from "@lossforge/core";
 * const logits = tensor([[0, 0], [0, 0]]), targets = tensor([0, 1], { dtype: "int32" });
 * const d = (o: DynamicFineTuningOptions) => dynamicFineTuning(o)(logits, targets).item();
 * console.log(await d({}), await d({ reduction: "sum" })); // ≈ 0.3466 0.6931 (p_t = 1/2)
 * ```
 */
export interface DynamicFineTuningOptions extends BaseLossOptions {
  /** How to reduce over positions (default "mean"). */
  reduction?: Reduction;
  /** Use the fused WebGPU kernel where it applies (default true; see `crossEntropy`). */
  fused?: boolean;
}

/**
 * Per-position DFT values `[N]` from `[N, C]` logits and safe targets `[N]`:
 * -sg(p_t) log p_t, with sg the stop-gradient.
 */
export function dynamicFineTuningPerPosition(logits: Tensor, targets: Tensor): Tensor {
  const logpt = reshape(gather(logSoftmax(logits), 1, unsqueeze(targets, -1)), [targets.size]);
  return stopGradient(exp(logpt)).mul(logpt).neg();
}

/**
 * Dynamic Fine-Tuning (DFT; Wu et al. 2025, "On the Generalization of SFT: A Reinforcement
 * Learning Perspective with Reward Rectification", arXiv 2508.05629): per position i,
 * -sg(p_{i,t_i}) log p_{i,t_i} with p = softmax(z) and sg the stop-gradient: cross-entropy
 * weighted by the target's probability, the weight treated as a constant. Its value is
 * p_t · CE and its gradient p_t · ∇CE = p_t (p_i - y_i), so tokens the model finds unlikely
 * move it less than under cross-entropy (the opposite of focal). Reduced by the mean over the
 * counted positions M (`reduction: "sum"` or `"none"` as for `crossEntropy`); 0 with zero
 * gradient when M is empty. Each value lies in [0, 1/e]. Registry name `dft`.
 *
 * `masking: "paper"`: DFT is not in the code published with the paper; it follows that code's
 * convention for its per-position losses (focal, Self-Adjusting Dice): an ignored position
 * keeps counting with zero logits and target 0, so p_t = 1/C there; it adds log(C)/C (no
 * gradient) and the mean runs over every position.
 *
 * @example
 * ```ts
 * import { dynamicFineTuning, tensor } from "@lossforge/core";
 * const logits = tensor([[Math.log(3), 0]]); // p_t = 3/4
 * const targets = tensor([0], { dtype: "int32" });
 * console.log(await dynamicFineTuning()(logits, targets).item()); // 0.75 · log(4/3) ≈ 0.2158
 * ```
 */
export function dynamicFineTuning(options: DynamicFineTuningOptions = {}): LossFn {
  checkOptionNames("dynamicFineTuning", options, [...TARGET_OPTION_NAMES]);
  return targetLoss({
    loss: "dynamicFineTuning",
    name: "dynamicFineTuning",
    options,
    reduction: targetReduction("dynamicFineTuning", options),
    settings: { kind: "dft" },
    composed: dynamicFineTuningPerPosition,
    paperZeroRows: true,
  });
}

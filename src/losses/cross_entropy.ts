/**
 * Cross-entropy over classes, with label smoothing and ignored positions.
 * @module
 */
import { gather, logSoftmax, mean, reshape, type Tensor, unsqueeze } from "../autograd/mod.ts";
import {
  type BaseLossOptions,
  checkNumber,
  checkOptionNames,
  type LossFn,
  type Reduction,
} from "./_common.ts";
import { TARGET_OPTION_NAMES, targetLoss, targetReduction } from "./_target.ts";

/**
 * Options of `crossEntropy`.
 *
 * @example
 * ```ts
 * import { crossEntropy, type CrossEntropyOptions, tensor } from "@lossforge/core";
 * const logits = tensor([[4, 0]]), targets = tensor([0], { dtype: "int32" });
 * const ce = (o: CrossEntropyOptions) => crossEntropy(o)(logits, targets).item();
 * console.log(await ce({}), await ce({ labelSmoothing: 0.1 })); // ≈ 0.0181 0.2181
 * ```
 */
export interface CrossEntropyOptions extends BaseLossOptions {
  /** e in [0, 1]: the weight of the uniform target (default 0). */
  labelSmoothing?: number;
  /** How to reduce over positions (default "mean"). */
  reduction?: Reduction;
  /**
   * Use the fused WebGPU kernel for float32 logits on the webgpu backend (default true);
   * false forces the composed ops (the reference the kernel is tested against).
   */
  fused?: boolean;
}

/**
 * Per-position cross-entropy `[N]` from `[N, C]` logits and safe targets `[N]`:
 * (1-e)(-log p_it) + e mean_c(-log p_ic).
 */
export function crossEntropyPerPosition(
  logits: Tensor,
  targets: Tensor,
  labelSmoothing: number,
): Tensor {
  const logp = logSoftmax(logits);
  const nll = reshape(gather(logp, 1, unsqueeze(targets, -1)), [targets.size]).neg();
  if (labelSmoothing === 0) return nll;
  const uniform = mean(logp, 1).neg();
  return nll.mul(1 - labelSmoothing).add(uniform.mul(labelSmoothing));
}

/**
 * Cross-entropy: per position i, -log p_{i,t_i} with p = softmax(z); with label smoothing
 * e, (1-e)(-log p_{i,t_i}) + e · mean_c(-log p_{i,c}). Reduced by the mean over the counted
 * positions M (targets other than `ignoreIndex`, default -100, where the mask is non-zero);
 * 0 with zero gradient when M is empty. On WebGPU (float32) one fused kernel computes the
 * per-position values and another their gradient.
 *
 * `masking: "paper"` computes the same as `"exclude"`: the published code takes PyTorch's
 * cross-entropy with its ignore index, which removes ignored positions (a `window` from
 * `combine` still limits the positions).
 *
 * @example
 * ```ts
 * import { crossEntropy, tensor } from "@lossforge/core";
 * const logits = tensor([[0, 0], [2, 0]]);
 * const targets = tensor([1, -100], { dtype: "int32" });
 * console.log(await crossEntropy()(logits, targets).item()); // log 2 ≈ 0.693
 * ```
 */
export function crossEntropy(options: CrossEntropyOptions = {}): LossFn {
  checkOptionNames("crossEntropy", options, [...TARGET_OPTION_NAMES, "labelSmoothing"]);
  const e = options.labelSmoothing ?? 0;
  checkNumber("crossEntropy", "labelSmoothing", e, 0, 1);
  return targetLoss({
    loss: "crossEntropy",
    name: e ? `crossEntropy(labelSmoothing=${e})` : "crossEntropy",
    options,
    reduction: targetReduction("crossEntropy", options),
    settings: { kind: "crossEntropy", smoothing: e },
    composed: (z, t) => crossEntropyPerPosition(z, t, e),
    paperZeroRows: false,
  });
}

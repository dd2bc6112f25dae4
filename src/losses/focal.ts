/**
 * Focal loss (Lin et al. 2017): cross-entropy down-weighted on easy positions.
 * @module
 */
import {
  exp,
  gather,
  logSoftmax,
  reshape,
  type Tensor,
  tensor,
  unsqueeze,
  ValueError,
} from "../autograd/mod.ts";
import {
  type BaseLossOptions,
  checkNumber,
  checkOptionNames,
  type LossFn,
  oneMinusPow,
  type Reduction,
} from "./_common.ts";
import { TARGET_OPTION_NAMES, targetLoss, targetReduction } from "./_target.ts";

/**
 * Options of `focal`.
 *
 * @example
 * ```ts
 * import { focal, type FocalOptions, tensor } from "@lossforge/core";
 * const logits = tensor([[0, 0], [0, 0]]), targets = tensor([0, 1], { dtype: "int32" });
 * const f = (o: FocalOptions) => focal(o)(logits, targets).item();
 * console.log(await f({ gamma: 0 })); // log 2 ≈ 0.6931: gamma 0 is cross-entropy
 * console.log(await f({ gamma: 2, alpha: [0.25, 0.75] })); // ≈ 0.0866
 * ```
 */
export interface FocalOptions extends BaseLossOptions {
  /** The focusing exponent g >= 0 (default 2; 0 gives cross-entropy). */
  gamma?: number;
  /** Optional per-class weights a_c (length C); default 1 for every class. */
  alpha?: readonly number[];
  /** How to reduce over positions (default "mean"). */
  reduction?: Reduction;
  /** Use the fused WebGPU kernel where it applies (default true; see `crossEntropy`). */
  fused?: boolean;
}

/**
 * Per-position focal loss `[N]` from `[N, C]` logits and safe targets `[N]`:
 * -a_t (1-p_t)^g log p_t.
 */
export function focalPerPosition(
  logits: Tensor,
  targets: Tensor,
  gamma: number,
  alpha?: readonly number[],
): Tensor {
  const n = targets.size;
  const logpt = reshape(gather(logSoftmax(logits), 1, unsqueeze(targets, -1)), [n]);
  let loss = logpt.neg();
  const factor = oneMinusPow(exp(logpt), gamma);
  if (factor) loss = loss.mul(factor);
  if (alpha) {
    const a = tensor(alpha as number[], { dtype: logits.dtype, backend: logits.backend.name });
    loss = loss.mul(gather(a, 0, targets));
  }
  return loss;
}

/**
 * Focal loss (Lin et al. 2017): per position i, -a_{t_i} (1 - p_{i,t_i})^g log p_{i,t_i}
 * with p = softmax(z), g = `gamma` (default 2) and a = `alpha` (optional per-class weights,
 * default 1). Reduced by the mean over the counted positions M; 0 with zero gradient when M
 * is empty. With g = 0 (and no alpha) it equals cross-entropy, value and gradient; focal /
 * cross-entropy is (1 - p_t)^g at each position. Where p_t rounds to 1, 1 - p_t is floored
 * at 1e-30 so the gradient stays finite for g < 1.
 *
 * `masking: "paper"` (the published code; its default g = 2 is this one's): an ignored
 * position i keeps counting, with z_i = 0 and t_i = 0, so it adds
 * -a_0 (1 - 1/C)^g log(1/C) (no gradient) and the mean is over every position,
 * L = (1/N) Σ_i -a_{t'_i} (1 - p'_{i,t'_i})^g log p'_{i,t'_i} with z'_i = m_i z_i,
 * t'_i = m_i t_i and m_i = 1 at kept positions, 0 at ignored ones.
 *
 * @example
 * ```ts
 * import { focal, tensor } from "@lossforge/core";
 * const logits = tensor([[0, 0]]);
 * const targets = tensor([1], { dtype: "int32" });
 * console.log(await focal({ gamma: 2 })(logits, targets).item()); // 0.25 · log 2 ≈ 0.1733
 * ```
 */
export function focal(options: FocalOptions = {}): LossFn {
  checkOptionNames("focal", options, [...TARGET_OPTION_NAMES, "gamma", "alpha"]);
  const gamma = options.gamma ?? 2;
  const alpha = options.alpha ? [...options.alpha] : undefined;
  checkNumber("focal", "gamma", gamma);
  const reduction = targetReduction("focal", options);
  alpha?.forEach((a, c) => checkNumber("focal", `alpha[${c}]`, a));
  return targetLoss({
    loss: "focal",
    name: `focal(gamma=${gamma}${alpha ? ", alpha" : ""})`,
    options,
    reduction,
    settings: { kind: "focal", gamma, classWeights: alpha },
    composed: (z, t) => focalPerPosition(z, t, gamma, alpha),
    paperZeroRows: true,
    check: (p) => {
      if (alpha && alpha.length !== p.classes) {
        throw new ValueError(`focal: alpha has ${alpha.length} weights for ${p.classes} classes`);
      }
    },
  });
}

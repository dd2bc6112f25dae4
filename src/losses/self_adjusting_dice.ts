/**
 * Self-Adjusting Dice loss (Li et al. 2020), in the form the paper uses.
 * @module
 */
import { exp, gather, logSoftmax, reshape, type Tensor, unsqueeze } from "../autograd/mod.ts";
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
 * Options of `selfAdjustingDice`.
 *
 * @example
 * ```ts
 * import { selfAdjustingDice, type SelfAdjustingDiceOptions, tensor } from "@lossforge/core";
 * const logits = tensor([[0, 0]]), targets = tensor([0], { dtype: "int32" }); // p_t = 0.5
 * const s = (o: SelfAdjustingDiceOptions) => selfAdjustingDice(o)(logits, targets).item();
 * console.log(await s({}), await s({ alpha: 2 })); // ≈ 0.3333 0.4118
 * ```
 */
export interface SelfAdjustingDiceOptions extends BaseLossOptions {
  /** The exponent a of (1 - p_t) (default 1). */
  alpha?: number;
  /** The smoothing g (default 1). */
  gamma?: number;
  /** How to reduce over positions (default "mean"). */
  reduction?: Reduction;
  /** Use the fused WebGPU kernel where it applies (default true; see `crossEntropy`). */
  fused?: boolean;
}

/** Per-position values `[N]` from `[N, C]` logits and safe targets `[N]`. */
export function selfAdjustingDicePerPosition(
  logits: Tensor,
  targets: Tensor,
  alpha: number,
  gamma: number,
): Tensor {
  const n = targets.size;
  const pt = exp(reshape(gather(logSoftmax(logits), 1, unsqueeze(targets, -1)), [n]));
  const factor = oneMinusPow(pt, alpha);
  const q = factor ? factor.mul(pt) : pt;
  return q.mul(2).add(gamma).div(q.add(1 + gamma)).neg().add(1);
}

/**
 * Self-Adjusting Dice loss (Li et al. 2020, the paper's form): per position i,
 * q_i = (1 - p_{i,t_i})^a p_{i,t_i} and 1 - (2 q_i + g) / (q_i + 1 + g), with p = softmax(z),
 * a = `alpha` (default 1), g = `gamma` (default 1). Reduced by the mean over the counted
 * positions M; 0 with zero gradient when M is empty. In [0, 1]. Note that its minimum is
 * not at a perfect prediction: p_t = 1 gives q = 0 and the value 1 - g/(1 + g) (0.5 by
 * default), as does p_t = 0; the value is lowest where q peaks (p_t = 1/(1 + a)).
 *
 * `masking: "paper"` (the published code, with the same defaults a = g = 1): an ignored
 * position keeps counting with zero logits and target 0, so p_t = 1/C there and the mean
 * is over every position, L = (1/N) Σ_i [1 - (2 q'_i + g) / (q'_i + 1 + g)] with q'_i
 * from z'_i = m_i z_i, t'_i = m_i t_i (m_i = 0 at ignored positions, else 1).
 *
 * @example
 * ```ts
 * import { selfAdjustingDice, tensor } from "@lossforge/core";
 * const logits = tensor([[0, 0]]); // p_t = 0.5, q = 0.25
 * const targets = tensor([0], { dtype: "int32" });
 * console.log(await selfAdjustingDice()(logits, targets).item()); // 1 - 1.5/2.25 = 1/3
 * ```
 */
export function selfAdjustingDice(options: SelfAdjustingDiceOptions = {}): LossFn {
  checkOptionNames("selfAdjustingDice", options, [...TARGET_OPTION_NAMES, "alpha", "gamma"]);
  const alpha = options.alpha ?? 1;
  const gamma = options.gamma ?? 1;
  checkNumber("selfAdjustingDice", "alpha", alpha);
  checkNumber("selfAdjustingDice", "gamma", gamma);
  return targetLoss({
    loss: "selfAdjustingDice",
    name: `selfAdjustingDice(alpha=${alpha}, gamma=${gamma})`,
    options,
    reduction: targetReduction("selfAdjustingDice", options),
    settings: { kind: "selfAdjustingDice", alpha, gamma },
    composed: (z, t) => selfAdjustingDicePerPosition(z, t, alpha, gamma),
    paperZeroRows: true,
  });
}

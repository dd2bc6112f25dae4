/**
 * Soft Dice loss over classes.
 * @module
 */
import { type BaseLossOptions, checkOptionNames, type LossFn, safeRatio } from "./_common.ts";
import { type ClassAverage, OVERLAP_OPTION_NAMES, overlapLoss } from "./_overlap.ts";

/**
 * Options of the Dice family (`dice`, `jaccard`, and the base of `tversky`).
 *
 * @example
 * ```ts
 * import { dice, type DiceOptions, tensor } from "@lossforge/core";
 * const logits = tensor([[2, 0], [0, 2]]), targets = tensor([0, 0], { dtype: "int32" });
 * const d = (o: DiceOptions) => dice(o)(logits, targets).item();
 * console.log(await d({ smooth: 0 }), await d({ smooth: 1, classes: "all" })); // ≈ 0.3333 0.375
 * ```
 */
export interface DiceOptions extends BaseLossOptions {
  /** The smoothing s added to numerator and denominator (default 1e-5). */
  smooth?: number;
  /** Average over the classes present in the targets (default) or over all C classes. */
  classes?: ClassAverage;
  /**
   * Use the fused WebGPU kernel for the per-class sums of float32 logits on the webgpu
   * backend (default true); false forces the composed ops.
   */
  fused?: boolean;
}

/**
 * Soft Dice loss: per class c, 1 - (2 S(py)_c + s) / (S(p)_c + S(y)_c + s), where
 * p = softmax(z), y = one-hot(t), S sums over the counted positions M and s = `smooth`
 * (default 1e-5); averaged over the present classes (S(y)_c > 0; `classes: "all"`: over
 * all C). 0 with zero gradient when M is empty. In [0, 1].
 *
 * `masking: "paper"`: the published code has no plain Dice; this mode applies its convention
 * (as its Generalized Dice does): each ignored position counts as a row of zero logits with
 * target 0, so every S runs over all positions with z'_i = m_i z_i and t'_i = m_i t_i
 * (m_i = 0 at ignored positions): each one adds 1/C to every S(p)_c, 1 to S(y)_0 and 1/C to
 * S(py)_0, and makes class 0 present.
 *
 * @example
 * ```ts
 * import { dice, tensor } from "@lossforge/core";
 * // Two-class probabilities as logits: log 1 = 0, log 0 = -Infinity.
 * const logits = tensor([[-Infinity, 0], [-Infinity, 0], [0, -Infinity], [0, -Infinity]]);
 * const targets = tensor([1, 1, 1, 1], { dtype: "int32" });
 * console.log(await dice({ smooth: 0 })(logits, targets).item()); // 1 - 2/3
 * ```
 */
export function dice(options: DiceOptions = {}): LossFn {
  checkOptionNames("dice", options, OVERLAP_OPTION_NAMES);
  return overlapLoss(
    "dice",
    options,
    ({ tp, sp, sy }, smooth) => safeRatio(tp.mul(2).add(smooth), sp.add(sy).add(smooth)),
  );
}

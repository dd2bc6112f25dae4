/**
 * Soft Dice loss over classes.
 * @module
 */
import { type BaseLossOptions, checkOptionNames, type LossFn, safeRatio } from "./_common.ts";
import {
  type ClassAverage,
  type EmptyPolicy,
  OVERLAP_OPTION_NAMES,
  overlapLoss,
} from "./_overlap.ts";

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
  /**
   * Each class's loss is -log of its score, floored at 1e-7 (-log max(score_c, 1e-7), as
   * segmentation_models_pytorch's `log_loss` with its `eps`), instead of 1 - score_c
   * (default false). Unbounded above (at most -log 1e-7 ≈ 16.1 per class).
   */
  logLoss?: boolean;
  /**
   * Squared probabilities in the denominator (default false): S(p²) replaces S(p) (S(y²) =
   * S(y) for one-hot targets), as MONAI's `squared_pred` and mmseg's `exponent: 2`. Tversky
   * squares its error terms: FP = S((p(1-y))²), FN = S(((1-p)y)²), so Dice and Jaccard stay
   * Tversky with a = b = 1/2 and a = b = 1.
   */
  squared?: boolean;
  /**
   * Per-class weights w (length C, finite, >= 0, one above 0): the mean over the averaged
   * classes becomes Σ_c w_c L_c / Σ_c w_c (MONAI's `weight` and mmseg's `class_weight`
   * multiply without dividing by Σ w). A length other than C is an error at call time.
   */
  classWeights?: readonly number[];
  /**
   * One value per sequence, then their mean (default false: all positions pooled): logits
   * `[..., T, C]` have one sequence per index of the leading axes (`[T, C]` is one sequence),
   * as MONAI's `DiceLoss` by default (`batch: false`) and `generalizedDice`.
   */
  perSequence?: boolean;
  /**
   * What a class absent from the targets (S(y)_c = 0) contributes when `classes: "all"`
   * averages it, and (with `perSequence`) a sequence with no counted position: `"skip"`
   * (left out), `"zero"` (loss 0) or `"one"` (loss 1). Default: the formula scores absent
   * classes (with smoothing s, (S(p)_c)/(S(p)_c + s): about 1 once any mass reaches the
   * class) and empty sequences are skipped. Under `classes: "present"` absent classes are
   * never averaged, whatever `empty` says.
   */
  empty?: EmptyPolicy;
}

/**
 * Soft Dice loss: per class c, 1 - (2 S(py)_c + s) / (S(p)_c + S(y)_c + s), where
 * p = softmax(z), y = one-hot(t), S sums over the counted positions M and s = `smooth`
 * (default 1e-5); averaged over the present classes (S(y)_c > 0; `classes: "all"`: over
 * all C). 0 with zero gradient when M is empty. In [0, 1].
 *
 * Options from the segmentation libraries (see {@linkcode DiceOptions}): `logLoss` takes
 * -log max(score_c, 1e-7) per class; `squared` uses S(p²) + S(y) as the denominator;
 * `classWeights` w gives Σ_c w_c L_c / Σ_c w_c over the averaged classes; `perSequence`
 * computes the value per sequence of `[B, T, C]` logits, then the mean over sequences;
 * `empty` says what absent classes and empty sequences count as.
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
 * // -log(2/3); squared: the same here, p² = p for one-hot predictions.
 * console.log(await dice({ smooth: 0, logLoss: true })(logits, targets).item()); // ≈ 0.4055
 * console.log(await dice({ smooth: 0, squared: true })(logits, targets).item()); // 1 - 2/3
 * ```
 */
export function dice(options: DiceOptions = {}): LossFn {
  checkOptionNames("dice", options, OVERLAP_OPTION_NAMES);
  return overlapLoss(
    "dice",
    options,
    ({ tp, sp, sy, sp2 }, smooth) =>
      safeRatio(tp.mul(2).add(smooth), (sp2 ?? sp).add(sy).add(smooth)),
  );
}

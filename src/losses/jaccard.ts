/**
 * Soft Jaccard (IoU) loss over classes.
 * @module
 */
import { checkOptionNames, type LossFn, safeRatio } from "./_common.ts";
import { OVERLAP_OPTION_NAMES, overlapLoss } from "./_overlap.ts";
import type { DiceOptions } from "./dice.ts";

/**
 * Options of `jaccard`: those of `dice`.
 *
 * @example
 * ```ts
 * import { jaccard, type JaccardOptions, tensor } from "@lossforge/core";
 * const logits = tensor([[2, 0, 0], [0, 2, 0]]), targets = tensor([0, 0], { dtype: "int32" });
 * const j = (o: JaccardOptions) => jaccard(o)(logits, targets).item();
 * console.log(await j({ classes: "present" }), await j({ classes: "all" })); // ≈ 0.5533 0.8511
 * ```
 */
export type JaccardOptions = DiceOptions;

/**
 * Soft Jaccard (IoU) loss: per class c, 1 - (S(py)_c + s) / (S(p)_c + S(y)_c - S(py)_c + s),
 * with p = softmax(z), y = one-hot(t), S summing over the counted positions M and
 * s = `smooth` (default 1e-5); averaged like `dice` (present classes by default). 0 with
 * zero gradient when M is empty. In [0, 1]. Takes the options of `dice`: `logLoss`
 * (-log max(score_c, 1e-7) per class), `squared` (S(p²) + S(y) - S(py) as the union, as
 * MONAI's `jaccard` with `squared_pred`), `classWeights`, `perSequence` and `empty`.
 *
 * `masking: "paper"`: the published code has no plain Jaccard; this mode applies its convention
 * (as its Generalized Dice does): each ignored position counts as a row of zero logits with
 * target 0, so every S runs over all positions with z'_i = m_i z_i and t'_i = m_i t_i
 * (m_i = 0 at ignored positions): each one adds 1/C to every S(p)_c, 1 to S(y)_0 and 1/C to
 * S(py)_0, and makes class 0 present.
 *
 * @example
 * ```ts
 * import { jaccard, tensor } from "@lossforge/core";
 * const logits = tensor([[-Infinity, 0], [-Infinity, 0], [0, -Infinity], [0, -Infinity]]);
 * const targets = tensor([1, 1, 1, 1], { dtype: "int32" });
 * console.log(await jaccard({ smooth: 0 })(logits, targets).item()); // 1 - 0.5
 * console.log(await jaccard({ smooth: 0, logLoss: true })(logits, targets).item()); // log 2
 * ```
 */
export function jaccard(options: JaccardOptions = {}): LossFn {
  checkOptionNames("jaccard", options, OVERLAP_OPTION_NAMES);
  return overlapLoss(
    "jaccard",
    options,
    ({ tp, sp, sy, sp2 }, smooth) =>
      safeRatio(tp.add(smooth), (sp2 ?? sp).add(sy).sub(tp).add(smooth)),
  );
}

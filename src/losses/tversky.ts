/**
 * Tversky loss: Dice with separate weights on false positives and false negatives.
 * @module
 */
import { checkNumber, checkOptionNames, type LossFn, safeRatio } from "./_common.ts";
import { OVERLAP_OPTION_NAMES, overlapLoss } from "./_overlap.ts";
import type { DiceOptions } from "./dice.ts";

/**
 * Options of `tversky`.
 *
 * @example
 * ```ts
 * import { tensor, tversky, type TverskyOptions } from "@lossforge/core";
 * // Class 1 is missed (a false negative) once: beta weighs misses, alpha false alarms.
 * const logits = tensor([[9, 0], [0, 9]]), targets = tensor([1, 1], { dtype: "int32" });
 * const t = (o: TverskyOptions) => tversky({ smooth: 0, ...o })(logits, targets).item();
 * console.log(await t({ alpha: 0.7, beta: 0.3 })); // ≈ 0.2308
 * console.log(await t({ alpha: 0.3, beta: 0.7 })); // ≈ 0.4118: misses cost more
 * ```
 */
export interface TverskyOptions extends DiceOptions {
  /** The weight a of false positives (default 0.5). */
  alpha?: number;
  /** The weight b of false negatives (default 0.5). */
  beta?: number;
}

/**
 * Tversky loss: per class c, 1 - (TP + s) / (TP + a FP + b FN + s) with TP = S(py),
 * FP = S(p(1-y)) = S(p) - TP, FN = S((1-p)y) = S(y) - TP, p = softmax(z), y = one-hot(t),
 * S summing over the counted positions M, a = `alpha`, b = `beta` (default 0.5 each),
 * s = `smooth` (default 1e-5); averaged like `dice`. With a = b = 0.5 it equals Dice
 * exactly when Tversky's smoothing is half Dice's (both 0, for example). In [0, 1].
 *
 * `masking: "paper"`: the published code has no plain Tversky; this mode applies its convention
 * (as its Generalized Dice does): each ignored position counts as a row of zero logits with
 * target 0, so every S runs over all positions with z'_i = m_i z_i and t'_i = m_i t_i
 * (m_i = 0 at ignored positions): each one adds 1/C to every S(p)_c, 1 to S(y)_0 and 1/C to
 * S(py)_0, and makes class 0 present.
 *
 * @example
 * ```ts
 * import { tensor, tversky } from "@lossforge/core";
 * const logits = tensor([[2, 0], [0, 2], [1, 1]]);
 * const targets = tensor([0, 1, 1], { dtype: "int32" });
 * console.log(await tversky({ alpha: 0.3, beta: 0.7 })(logits, targets).item()); // ≈ 0.2439
 * ```
 */
export function tversky(options: TverskyOptions = {}): LossFn {
  checkOptionNames("tversky", options, [...OVERLAP_OPTION_NAMES, "alpha", "beta"]);
  const a = options.alpha ?? 0.5;
  const b = options.beta ?? 0.5;
  checkNumber("tversky", "alpha", a);
  checkNumber("tversky", "beta", b);
  return overlapLoss("tversky", options, ({ tp, sp, sy }, smooth) => {
    const fp = sp.sub(tp);
    const fn = sy.sub(tp);
    return safeRatio(tp.add(smooth), tp.add(fp.mul(a)).add(fn.mul(b)).add(smooth));
  }, `alpha=${a}, beta=${b}, `);
}

/**
 * Tversky loss: Dice with separate weights on false positives and false negatives.
 * @module
 */
import { ValueError } from "../autograd/mod.ts";
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
  /**
   * Focal-Tversky: each class's loss to the power `gamma` (default 1: plain Tversky), any
   * finite value > 0. The exponent is `gamma` itself, as in the Unified Focal loss of Yeung
   * et al. (2022); Abraham and Khan (2019) write (1 - TI_c)^(1/γ) with γ in [1, 3], so their
   * γ = 4/3 is `gamma: 0.75` here. segmentation_models_pytorch raises the mean over
   * classes instead (`loss.mean() ** gamma`); with one averaged class the two agree.
   */
  gamma?: number;
}

/**
 * Tversky loss: per class c, 1 - (TP + s) / (TP + a FP + b FN + s) with TP = S(py),
 * FP = S(p(1-y)) = S(p) - TP, FN = S((1-p)y) = S(y) - TP, p = softmax(z), y = one-hot(t),
 * S summing over the counted positions M, a = `alpha`, b = `beta` (default 0.5 each),
 * s = `smooth` (default 1e-5); averaged like `dice`. With a = b = 0.5 it equals Dice
 * exactly when Tversky's smoothing is half Dice's (both 0, for example). In [0, 1].
 *
 * Focal-Tversky (`gamma`, see {@linkcode TverskyOptions}): per class (1 - TI_c)^gamma, with
 * TI_c the Tversky index above, then the same mean over classes; gamma = 1 is plain
 * Tversky. `squared` squares the error terms: FP = S((p(1-y))²) = S(p²) - S(p² y) and
 * FN = S(((1-p)y)²) = S(y) - 2 S(py) + S(p² y), so a = b = 1/2 gives squared Dice's
 * S(p²) + S(y) and a = b = 1 squared Jaccard's union. `logLoss`, `classWeights`,
 * `perSequence` and `empty` are those of `dice`; with `logLoss` the power applies to
 * -log max(TI_c, 1e-7).
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
 * // Focal-Tversky: the mean over the two classes of (1 - TI_c)².
 * console.log(await tversky({ alpha: 0.3, beta: 0.7, gamma: 2 })(logits, targets).item());
 * ```
 */
export function tversky(options: TverskyOptions = {}): LossFn {
  checkOptionNames("tversky", options, TVERSKY_OPTION_NAMES);
  const a = options.alpha ?? 0.5;
  const b = options.beta ?? 0.5;
  const gamma = options.gamma ?? 1;
  checkNumber("tversky", "alpha", a);
  checkNumber("tversky", "beta", b);
  checkNumber("tversky", "gamma", gamma);
  if (gamma === 0) throw new ValueError("tversky: gamma must be above 0, got 0");
  return overlapLoss(
    "tversky",
    options,
    ({ tp, sp, sy, sp2, tp2 }, smooth) => {
      // squared: FP = S(p²) - S(p² y), FN = S(y) - 2 S(py) + S(p² y), the squared errors.
      const fp = sp2 && tp2 ? sp2.sub(tp2) : sp.sub(tp);
      const fn = tp2 ? sy.sub(tp.mul(2)).add(tp2) : sy.sub(tp);
      return safeRatio(tp.add(smooth), tp.add(fp.mul(a)).add(fn.mul(b)).add(smooth));
    },
    `alpha=${a}, beta=${b}, `,
    gamma,
  );
}

/** The option names of `tversky` and `focalTversky`. */
const TVERSKY_OPTION_NAMES: readonly string[] = [...OVERLAP_OPTION_NAMES, "alpha", "beta", "gamma"];

/**
 * Focal-Tversky loss (Abraham and Khan 2019): `tversky` with the defaults of that paper,
 * alpha = 0.3 on false positives, beta = 0.7 on false negatives and (1 - TI_c)^gamma per
 * class with gamma = 0.75 (their 1/γ with γ = 4/3; see {@linkcode TverskyOptions}). Any
 * option overrides them; the registry name is `ftversky`. In [0, 1].
 *
 * @example
 * ```ts
 * import { focalTversky, tensor, tversky } from "@lossforge/core";
 * const logits = tensor([[2, 0], [0, 2], [1, 1]]);
 * const targets = tensor([0, 1, 1], { dtype: "int32" });
 * const plain = await tversky({ alpha: 0.3, beta: 0.7 })(logits, targets).item(); // ≈ 0.2439
 * const focal = await focalTversky()(logits, targets).item(); // ≈ 0.347: small losses grow
 * console.log(focalTversky().name, plain < focal); // "tversky(alpha=0.3, beta=0.7, gamma=0.75, present)" true
 * ```
 */
export function focalTversky(options: TverskyOptions = {}): LossFn {
  checkOptionNames("focalTversky", options, TVERSKY_OPTION_NAMES);
  return tversky({ alpha: 0.3, beta: 0.7, gamma: 0.75, ...options });
}

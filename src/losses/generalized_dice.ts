/**
 * Generalized Dice loss (Sudre et al. 2017): Dice with per-class weights, per sequence.
 * @module
 */
import { max, noGrad, recip, type Tensor, where } from "../autograd/mod.ts";
import {
  type BaseLossOptions,
  checkChoice,
  checkNumber,
  IGNORE_INDEX,
  type LossFn,
  maskedMean,
  named,
  prepare,
  safeRatio,
} from "./_common.ts";
import { DEFAULT_SMOOTH, softCounts } from "./_overlap.ts";

/**
 * How Generalized Dice weighs class c from its target count S(y)_c: `"square"` 1/S(y)²,
 * `"simple"` 1/S(y), `"uniform"` 1.
 *
 * @example
 * ```ts
 * import { generalizedDice, type GeneralizedDiceWeight, tensor } from "@lossforge/core";
 * // A frequent class 0 (3 tokens) and a rare class 1 (1 token), the rare one predicted badly.
 * const logits = tensor([[2, 0], [2, 0], [2, 0], [2, 0]]);
 * const targets = tensor([0, 0, 0, 1], { dtype: "int32" });
 * const g = (weight: GeneralizedDiceWeight) => generalizedDice({ weight })(logits, targets).item();
 * console.log(await g("uniform"), await g("simple"), await g("square")); // ≈ 0.3096 0.4522 0.625
 * ```
 */
export type GeneralizedDiceWeight = "square" | "simple" | "uniform";

/**
 * Options of `generalizedDice`.
 *
 * @example
 * ```ts
 * import { generalizedDice, type GeneralizedDiceOptions, tensor } from "@lossforge/core";
 * const logits = tensor([[[2, 0], [2, 0], [2, 0], [0, 2]], [[0, 2], [0, 2], [2, 0], [2, 0]]]);
 * const targets = tensor([[0, 0, 0, 1], [1, 1, 1, 1]], { dtype: "int32" }); // [B=2, T=4]
 * const g = (o: GeneralizedDiceOptions) => generalizedDice(o)(logits, targets).item();
 * console.log(await g({}), await g({ perSequence: false })); // ≈ 0.342 0.314
 * ```
 */
export interface GeneralizedDiceOptions extends BaseLossOptions {
  /** Class weighting (default "square"). */
  weight?: GeneralizedDiceWeight;
  /** The smoothing s (default 1e-5). */
  smooth?: number;
  /**
   * One value per sequence, then their mean (default true): logits `[..., T, C]` have one
   * sequence per index of the leading axes; `[T, C]` is one sequence. False pools every
   * position into one.
   */
  perSequence?: boolean;
  /** Use the fused WebGPU kernel for the per-class sums (default true; see `dice`). */
  fused?: boolean;
}

const WEIGHTS: readonly GeneralizedDiceWeight[] = ["square", "simple", "uniform"];

/**
 * Class weights `[G, C]` from target counts `[G, C]`; absent classes take the largest finite
 * weight of their own sequence. Constants: they depend on the targets only.
 */
function classWeights(sy: Tensor, kind: GeneralizedDiceWeight): Tensor {
  return noGrad(() => {
    if (kind === "uniform") return sy.mul(0).add(1);
    const present = sy.gt(0);
    const safe = where(present, sy, 1);
    const raw = where(present, recip(kind === "square" ? safe.square() : safe), 0);
    return where(present, raw, max(raw, 1, true));
  });
}

/**
 * Generalized Dice loss (Sudre et al. 2017): per sequence,
 * 1 - (2 Σ_c w_c S(py)_c + s) / (Σ_c w_c (S(p)_c + S(y)_c) + s), where p = softmax(z),
 * y = one-hot(t), S sums over the sequence's counted positions, s = `smooth` (default 1e-5)
 * and w_c = 1/S(y)_c² (`"square"`, default), 1/S(y)_c (`"simple"`) or 1 (`"uniform"`);
 * classes absent from a sequence get the largest finite weight of that sequence. The
 * weights are constants when differentiating. For `[B, T, C]` logits one value per sequence
 * b (sequences with no counted position are skipped), then their mean; 0 with zero gradient
 * when nothing counts. The per-class sums take one pass over `[N, C]`. In [0, 1].
 *
 * @example
 * ```ts
 * import { generalizedDice, tensor } from "@lossforge/core";
 * const logits = tensor([[[2, 0, 0], [0, 2, 0]], [[0, 0, 2], [2, 0, 0]]]); // [B=2, T=2, C=3]
 * const targets = tensor([[0, 1], [2, 2]], { dtype: "int32" });
 * console.log(await generalizedDice()(logits, targets).item()); // ≈ 0.3831
 * ```
 */
export function generalizedDice(options: GeneralizedDiceOptions = {}): LossFn {
  const kind = options.weight ?? "square";
  const smooth = options.smooth ?? DEFAULT_SMOOTH;
  const perSequence = options.perSequence ?? true;
  const ignoreIndex = options.ignoreIndex ?? IGNORE_INDEX;
  checkChoice("generalizedDice", "weight", kind, WEIGHTS);
  checkNumber("generalizedDice", "smooth", smooth);
  const name = `generalizedDice(${kind}${perSequence ? "" : ", pooled"})`;
  return named(name, (logits: Tensor, targets: Tensor, opts = {}): Tensor => {
    const p = prepare("generalizedDice", logits, targets, opts.mask, ignoreIndex);
    const groups = perSequence && logits.rank >= 3
      ? logits.shape.slice(0, -2).reduce((a, b) => a * b, 1)
      : 1;
    const { tp, sp, sy } = softCounts(p, groups, options.fused);
    const w = classWeights(sy, kind);
    const num = tp.mul(w).sum(1).mul(2).add(smooth);
    const den = sp.add(sy).mul(w).sum(1).add(smooth);
    const perGroup = safeRatio(num, den).neg().add(1);
    return maskedMean(perGroup, sy.sum(1).gt(0));
  });
}

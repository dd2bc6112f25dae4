/**
 * Generalized Dice loss (Sudre et al. 2017): Dice with per-class weights, per sequence.
 * @module
 */
import { cast, max, noGrad, recip, type Tensor, where } from "../autograd/mod.ts";
import {
  BASE_OPTION_NAMES,
  type BaseLossOptions,
  callMasking,
  checkChoice,
  checkNumber,
  checkOptionNames,
  IGNORE_INDEX,
  type LossFn,
  lossMasking,
  maskedMean,
  maskingName,
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

/** The published code's guard against a zero count: w = 1 / (count + 1e-10)^k. */
const PAPER_EPS = 1e-10;

/**
 * The published code's class weights `[G, C]`: 1 / (S(y) + 1e-10)^k (k = 2 for "square",
 * 1 for "simple"; 1 for "uniform"), computed in float32 as it does, with no replacement for
 * absent classes (about 1e20 for "square"). Constants.
 */
function paperWeights(sy: Tensor, kind: GeneralizedDiceWeight): Tensor {
  return noGrad(() => {
    if (kind === "uniform") return sy.mul(0).add(1);
    const base = cast(sy, "float32").add(PAPER_EPS);
    return cast(recip(kind === "square" ? base.square() : base), sy.dtype);
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
 * `masking: "paper"` computes what the published code does, per sequence b:
 * -2 (Σ_c w_bc I_bc + s) / (Σ_c w_bc U_bc + s), with I = S(py), U = S(p) + S(y),
 * w_bc = 1 / (S(y)_bc + 1e-10)² (in float32; `"simple"`: to the power 1) and no replacement
 * for absent classes (w ≈ 1e20 there), then the mean over sequences. Ignored positions are
 * zeroed before the softmax and count, with target 0: each adds 1/C to every class's S(p)
 * (so to every union) and 1 to S(y)_0. The value lies in [-2, 0]; over a vocabulary the
 * absent classes' 1e20 weights dominate the denominator, so it is close to 0 with a nearly
 * vanishing gradient, as published.
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
  checkOptionNames("generalizedDice", options, [
    ...BASE_OPTION_NAMES,
    "weight",
    "smooth",
    "perSequence",
    "fused",
  ]);
  const kind = options.weight ?? "square";
  const smooth = options.smooth ?? DEFAULT_SMOOTH;
  const perSequence = options.perSequence ?? true;
  const ignoreIndex = options.ignoreIndex ?? IGNORE_INDEX;
  checkChoice("generalizedDice", "weight", kind, WEIGHTS);
  checkNumber("generalizedDice", "smooth", smooth);
  const own = lossMasking("generalizedDice", options);
  const name = maskingName(`generalizedDice(${kind}${perSequence ? "" : ", pooled"})`, own);
  return named(name, (logits: Tensor, targets: Tensor, opts = {}): Tensor => {
    const masking = callMasking("generalizedDice", own, opts);
    const p = prepare("generalizedDice", logits, targets, opts, ignoreIndex, masking);
    const groups = perSequence && logits.rank >= 3
      ? logits.shape.slice(0, -2).reduce((a, b) => a * b, 1)
      : 1;
    const { tp, sp, sy } = softCounts(p, groups, options.fused);
    const paper = masking === "paper";
    const w = paper ? paperWeights(sy, kind) : classWeights(sy, kind);
    // "paper": -2 (Σ w I + s) / (Σ w U + s); "exclude": 1 - (2 Σ w I + s) / (Σ w U + s).
    const num = paper ? tp.mul(w).sum(1).add(smooth) : tp.mul(w).sum(1).mul(2).add(smooth);
    const den = sp.add(sy).mul(w).sum(1).add(smooth);
    const ratio = safeRatio(num, den);
    const perGroup = paper ? ratio.mul(-2) : ratio.neg().add(1);
    return maskedMean(perGroup, sy.sum(1).gt(0));
  });
}

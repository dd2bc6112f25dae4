/**
 * The loss zoo for language-model fine-tuning: cross-entropy, Focal, Dice, Jaccard,
 * Tversky, Generalized Dice, Self-Adjusting Dice, Lovász-Softmax and Lovász hinge, the
 * token losses published after the paper (DFT, the probability family, tempered focal),
 * their weighted combinations, and lookup by name. Every loss is a factory returning a
 * `LossFn = (logits [..., C], targets [...] int32, { mask }?) => scalar`; -100 ignores a
 * position. Definitions: each function's JSDoc and docs/losses.md (the contract).
 *
 * Two implementations, one answer: every loss is composed from autograd ops (the readable
 * reference, differentiated by the engine; float64 on the CPU); with float32 logits on
 * WebGPU, the per-position losses (cross-entropy, focal, Self-Adjusting Dice, DFT, the
 * probability family, tempered focal), the Dice family's per-class sums and
 * Lovász-Softmax's class probabilities and sorted sums run as fused kernels with analytic
 * backward passes (`fused: false` forces the composed ops). Lovász never loops over the
 * vocabulary: it scores at most min(N, C) classes in one batched sort.
 *
 * Every loss takes `masking`: `"exclude"` (default) removes ignored positions; `"paper"`
 * reproduces the code published with the paper, which multiplies them by zero, and
 * `combine({ masking: "paper" })` adds its trainer's answer window (docs/losses.md#paper).
 *
 * Targets outside [0, C) other than the ignore value throw a ValueError on the CPU backend
 * (checked synchronously). On WebGPU the targets cannot be read without waiting, so an
 * out-of-range target is treated as ignored there; `validateTargets` checks explicitly.
 * @module
 */
import "../backends.ts";
export {
  type BaseLossOptions,
  type LossCallOptions,
  type LossFn,
  type Masking,
  MASKINGS,
  type Reduction,
  validateTargets,
} from "./_common.ts";
export type { ClassAverage, EmptyPolicy } from "./_overlap.ts";
export { crossEntropy, type CrossEntropyOptions } from "./cross_entropy.ts";
export { focal, type FocalOptions } from "./focal.ts";
export { dice, type DiceOptions } from "./dice.ts";
export { jaccard, type JaccardOptions } from "./jaccard.ts";
export { focalTversky, tversky, type TverskyOptions } from "./tversky.ts";
export {
  generalizedDice,
  type GeneralizedDiceOptions,
  type GeneralizedDiceWeight,
} from "./generalized_dice.ts";
export { selfAdjustingDice, type SelfAdjustingDiceOptions } from "./self_adjusting_dice.ts";
export { dynamicFineTuning, type DynamicFineTuningOptions } from "./dft.ts";
export { probabilityLoss, type ProbabilityLossOptions } from "./probability.ts";
export { temperedFocal, type TemperedFocalOptions } from "./tempered_focal.ts";
export {
  lovaszHinge,
  type LovaszHingeOptions,
  lovaszSoftmax,
  type LovaszSoftmaxOptions,
} from "./lovasz.ts";
export {
  combine,
  type CombineCallOptions,
  type CombinedLossFn,
  type CombineMask,
  type CombineOptions,
  type CombineTerm,
  trainerWindow,
} from "./combine.ts";
export { LOSS_NAMES, lossByName, type LossName, type LossOptionsByName } from "./by_name.ts";

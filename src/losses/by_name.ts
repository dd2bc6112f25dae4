/**
 * Losses by their short names, so configurations can name them.
 * @module
 */
import { ValueError } from "../autograd/mod.ts";
import type { LossFn } from "./_common.ts";
import { crossEntropy, type CrossEntropyOptions } from "./cross_entropy.ts";
import { dice, type DiceOptions } from "./dice.ts";
import { dynamicFineTuning, type DynamicFineTuningOptions } from "./dft.ts";
import { focal, type FocalOptions } from "./focal.ts";
import { generalizedDice, type GeneralizedDiceOptions } from "./generalized_dice.ts";
import { jaccard, type JaccardOptions } from "./jaccard.ts";
import { lovaszSoftmax, type LovaszSoftmaxOptions } from "./lovasz.ts";
import { probabilityLoss, type ProbabilityLossOptions } from "./probability.ts";
import { selfAdjustingDice, type SelfAdjustingDiceOptions } from "./self_adjusting_dice.ts";
import { temperedFocal, type TemperedFocalOptions } from "./tempered_focal.ts";
import { focalTversky, tversky, type TverskyOptions } from "./tversky.ts";

/**
 * The options each loss name takes.
 *
 * @example
 * ```ts
 * import { lossByName, type LossName, type LossOptionsByName } from "@lossforge/core";
 * // Options as read from a config file, checked against the loss they are for.
 * const fromConfig = <K extends LossName>(name: K, options: LossOptionsByName[K]) =>
 *   lossByName(name, options);
 * console.log(fromConfig("focal", { gamma: 2 }).name); // "focal(gamma=2)"
 * ```
 */
export interface LossOptionsByName {
  /** `crossEntropy`. */
  ce: CrossEntropyOptions;
  /** `focal`. */
  focal: FocalOptions;
  /** `dice`. */
  dice: DiceOptions;
  /** `jaccard`. */
  jaccard: JaccardOptions;
  /** `tversky`. */
  tversky: TverskyOptions;
  /** `generalizedDice`. */
  gdice: GeneralizedDiceOptions;
  /** `selfAdjustingDice`. */
  sadice: SelfAdjustingDiceOptions;
  /** `lovaszSoftmax`. */
  lovasz: LovaszSoftmaxOptions;

  // Losses of the segmentation libraries that are another loss with other defaults.
  /** `focalTversky`: Tversky with alpha 0.3, beta 0.7, gamma 0.75. */
  ftversky: TverskyOptions;

  // Token losses published after the paper.
  /** `dynamicFineTuning`. */
  dft: DynamicFineTuningOptions;
  /** `probabilityLoss`. */
  prob: ProbabilityLossOptions;
  /** `temperedFocal`. */
  tofu: TemperedFocalOptions;
}

/**
 * A loss's short name.
 *
 * @example
 * ```ts
 * import { LOSS_NAMES, lossByName, type LossName, tensor } from "@lossforge/core";
 * const logits = tensor([[2, 0], [0, 2]]), targets = tensor([0, 1], { dtype: "int32" });
 * const score = async (name: LossName) => (await lossByName(name)(logits, targets).item());
 * for (const name of LOSS_NAMES) console.log(name, await score(name)); // ce 0.1269, ...
 * ```
 */
export type LossName = keyof LossOptionsByName;

const FACTORIES: { [K in LossName]: (options?: LossOptionsByName[K]) => LossFn } = {
  ce: crossEntropy,
  focal,
  dice,
  jaccard,
  tversky,
  gdice: generalizedDice,
  sadice: selfAdjustingDice,
  lovasz: lovaszSoftmax,

  // Losses of the segmentation libraries that are another loss with other defaults.
  ftversky: focalTversky,

  // Token losses published after the paper.
  dft: dynamicFineTuning,
  prob: probabilityLoss,
  tofu: temperedFocal,
};

/**
 * Every loss name, in a stable order.
 *
 * @example
 * ```ts
 * import { LOSS_NAMES } from "@lossforge/core";
 * console.log(LOSS_NAMES.join(", "));
 * // ce, focal, dice, jaccard, tversky, gdice, sadice, lovasz, ftversky, dft, prob, tofu
 * ```
 */
export const LOSS_NAMES: readonly LossName[] = Object.keys(FACTORIES) as LossName[];

/**
 * Makes a loss from its short name and options: `ce` (crossEntropy), `focal`, `dice`,
 * `jaccard`, `tversky`, `gdice` (generalizedDice), `sadice` (selfAdjustingDice), `lovasz`
 * (lovaszSoftmax), `ftversky` (focalTversky), `dft` (dynamicFineTuning), `prob`
 * (probabilityLoss), `tofu` (temperedFocal). An unknown name throws a ValueError listing the
 * valid ones. Every loss
 * takes `masking: "exclude" | "paper"` among its options (see `Masking`).
 *
 * @example
 * ```ts
 * import { lossByName, tensor } from "@lossforge/core";
 * const loss = lossByName("focal", { gamma: 1 });
 * const v = loss(tensor([[0, 0]]), tensor([0], { dtype: "int32" }));
 * console.log(loss.name, await v.item()); // "focal(gamma=1)" ≈ 0.3466 (0.5 · log 2)
 * ```
 */
export function lossByName<K extends LossName>(name: K, options?: LossOptionsByName[K]): LossFn;
/**
 * Makes a loss from a name known only at run time (from a config file, say).
 *
 * @example
 * ```ts
 * import { lossByName } from "@lossforge/core";
 * const [name = "dice"] = Deno.args; // a name from the command line: checked when called
 * console.log(lossByName(name, {}).name); // "dice(present)"; an unknown name throws
 * ```
 */
export function lossByName(name: string, options?: Record<string, unknown>): LossFn;
export function lossByName(name: string, options: Record<string, unknown> = {}): LossFn {
  if (!Object.hasOwn(FACTORIES, name)) {
    throw new ValueError(
      `lossByName: unknown loss ${JSON.stringify(name)}; valid names: ${LOSS_NAMES.join(", ")}`,
    );
  }
  const make = FACTORIES[name as LossName] as (o: Record<string, unknown>) => LossFn;
  return make(options);
}

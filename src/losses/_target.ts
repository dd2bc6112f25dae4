/**
 * The losses of each position's target probability (cross-entropy, focal, Self-Adjusting
 * Dice) share one shape: per-position values from the fused kernel where it applies, else
 * from the composed ops, reduced over the counted positions. Private to `src/losses`.
 * @module
 */
import type { Tensor } from "../autograd/mod.ts";
import {
  BASE_OPTION_NAMES,
  type BaseLossOptions,
  callMasking,
  checkChoice,
  IGNORE_INDEX,
  type LossFn,
  lossMasking,
  maskingName,
  named,
  prepare,
  type Prepared,
  reducePositions,
  type Reduction,
} from "./_common.ts";
import { useFused } from "./_fused_common.ts";
import { fusedTargetLoss, type FusedTargetSettings } from "./_fused_target.ts";

/** The allowed reductions. */
export const REDUCTIONS: readonly Reduction[] = ["mean", "sum", "none"];

/** The options every target-probability loss reads. */
export interface TargetLossOptions extends BaseLossOptions {
  /** How to reduce over positions (default "mean"). */
  reduction?: Reduction;
  /** Whether float32 WebGPU logits may take the fused kernel (default true). */
  fused?: boolean;
}

/** The option names every target-probability loss takes (those of `TargetLossOptions`). */
export const TARGET_OPTION_NAMES: readonly string[] = [...BASE_OPTION_NAMES, "reduction", "fused"];

/** `options.reduction` (default "mean"), checked against REDUCTIONS for `loss`. */
export function targetReduction(loss: string, options: TargetLossOptions): Reduction {
  const reduction = options.reduction ?? "mean";
  checkChoice(loss, "reduction", reduction, REDUCTIONS);
  return reduction;
}

/** What a target-probability loss is made of. */
export interface TargetLoss {
  /** The loss's name in error messages ("focal"). */
  loss: string;
  /** The name the built loss reports. */
  name: string;
  /** Its options (ignoreIndex and fused are read here). */
  options: TargetLossOptions;
  /** Its checked reduction (`targetReduction`). */
  reduction: Reduction;
  /** The fused kernel's settings. */
  settings: FusedTargetSettings;
  /** The composed per-position values `[N]` of prepared logits `[N, C]` and targets `[N]`. */
  composed: (logits: Tensor, targets: Tensor) => Tensor;
  /** Checks the prepared problem before computing (throws on a mismatch). */
  check?: (p: Prepared) => void;
  /**
   * Whether "paper" masking turns ignored positions into counted zero rows (focal,
   * Self-Adjusting Dice); false where the published code removes them in both modes
   * (cross-entropy, PyTorch's with its ignore index).
   */
  paperZeroRows: boolean;
}

/** The loss `spec` describes, as a LossFn. */
export function targetLoss(spec: TargetLoss): LossFn {
  const ignoreIndex = spec.options.ignoreIndex ?? IGNORE_INDEX;
  const own = lossMasking(spec.loss, spec.options);
  return named(maskingName(spec.name, own), (logits: Tensor, targets: Tensor, opts = {}) => {
    const masking = callMasking(spec.loss, own, opts);
    const mode = spec.paperZeroRows ? masking : "exclude";
    const p = prepare(spec.loss, logits, targets, opts, ignoreIndex, mode);
    spec.check?.(p);
    const values = useFused(p.logits, spec.options.fused)
      ? fusedTargetLoss(spec.settings, p.logits, p.targets)
      : spec.composed(p.logits, p.targets);
    return reducePositions(values, p.valid, spec.reduction, p.positions);
  });
}

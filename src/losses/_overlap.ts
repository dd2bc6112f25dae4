/**
 * The soft overlap counts behind the Dice family (Dice, Jaccard, Tversky, Generalized
 * Dice): per class c, over the counted positions M, S(py)_c, S(p)_c and S(y)_c, computed in
 * one pass over `[N, C]` (the S(p) column sums) plus two scatter-adds over N positions for
 * the terms that involve the one-hot targets. Private to `src/losses`.
 * @module
 */
import {
  gather,
  reshape,
  scatterAdd,
  softmax,
  sum,
  type Tensor,
  unsqueeze,
  where,
  zeros,
} from "../autograd/mod.ts";
import {
  BASE_OPTION_NAMES,
  type BaseLossOptions,
  callMasking,
  checkChoice,
  checkNumber,
  classCounts,
  IGNORE_INDEX,
  type LossFn,
  lossMasking,
  maskedMean,
  maskingName,
  named,
  prepare,
  type Prepared,
} from "./_common.ts";
import { useFused } from "./_fused_common.ts";
import { countsRow, fusedSoftCounts } from "./_fused_overlap.ts";

/**
 * Which classes a Dice-type loss averages over.
 * @example
 * ```ts
 * import { type ClassAverage, dice, tensor } from "@lossforge/core";
 * // Class 2 never occurs: "present" averages classes 0 and 1, "all" counts class 2 too.
 * const logits = tensor([[4, 0, 0], [0, 4, 0]]), targets = tensor([0, 1], { dtype: "int32" });
 * const over = (classes: ClassAverage) => dice({ classes })(logits, targets).item();
 * console.log(await over("present"), await over("all")); // ≈ 0.0267 0.3511
 * ```
 */
export type ClassAverage = "present" | "all";

/** Default smoothing of the Dice family. */
export const DEFAULT_SMOOTH = 1e-5;

/** The allowed values of `classes`. */
export const CLASS_AVERAGES: readonly ClassAverage[] = ["present", "all"];

/** Checks a `classes` option. */
export function checkClasses(loss: string, classes: ClassAverage): void {
  checkChoice(loss, "classes", classes, CLASS_AVERAGES);
}

/** Per-class soft counts `[G, C]` over the counted positions of each group. */
export interface SoftCounts {
  /** TP = S(p y): the probability each counted position gives its own target class. */
  tp: Tensor;
  /** S(p): the probability mass each class receives. */
  sp: Tensor;
  /** S(y): how many counted positions hold each class (constant: no gradient). */
  sy: Tensor;
}

/**
 * Soft counts for `groups` groups of positions: the prepared `[N, C]` logits are viewed as
 * `[groups, N / groups, C]` (for Generalized Dice, one group per sequence). Float32 logits
 * on WebGPU take the fused kernel unless `fused` is false.
 */
export function softCounts(prep: Prepared, groups = 1, fused?: boolean): SoftCounts {
  const { logits, targets, valid, n, classes } = prep;
  if (useFused(logits, fused)) {
    const counts = fusedSoftCounts(logits, targets, valid, groups);
    return { sp: countsRow(counts, 0), tp: countsRow(counts, 1), sy: countsRow(counts, 2) };
  }
  const per = groups === 0 ? 0 : n / groups;
  const p = reshape(softmax(logits), [groups, per, classes]);
  const t = reshape(targets, [groups, per]);
  const v = reshape(valid, [groups, per]);
  const sp = sum(where(unsqueeze(v, -1), p, 0), 1);
  const pt = reshape(gather(p, 2, unsqueeze(t, -1)), [groups, per]);
  const base = zeros([groups, classes], { dtype: p.dtype, backend: p.backend.name });
  const tp = scatterAdd(base, 1, t, where(v, pt, 0));
  const sy = classCounts(t, v, classes);
  return { tp, sp, sy };
}

/**
 * The mean of per-class losses `[C]` over the present classes (S(y)_c > 0; 0 when no class
 * is present) or over all classes.
 */
export function averageClasses(perClass: Tensor, sy: Tensor, classes: ClassAverage): Tensor {
  if (classes === "all") return perClass.mean();
  return maskedMean(perClass, sy.gt(0));
}

/** The options every Dice-type loss reads (those of `DiceOptions`). */
export interface OverlapOptions extends BaseLossOptions {
  /** The smoothing s (default DEFAULT_SMOOTH). */
  smooth?: number;
  /** Which classes the per-class losses are averaged over (default "present"). */
  classes?: ClassAverage;
  /** Whether float32 WebGPU logits may take the fused soft-count kernel (default true). */
  fused?: boolean;
}

/** The option names of every Dice-type loss (those of {@linkcode OverlapOptions}). */
export const OVERLAP_OPTION_NAMES: readonly string[] = [
  ...BASE_OPTION_NAMES,
  "smooth",
  "classes",
  "fused",
];

/**
 * A Dice-type loss `loss`: per class c, 1 - `score(counts, s)` of the soft counts over the
 * counted positions, averaged over the classes `classes` says. Its name is
 * `loss(<label><classes>)`. Checks `smooth`, `classes` and `masking` when built. In
 * "paper" masking an ignored position counts as zero logits (S(p)_c gains 1/C for every
 * class) with target 0 (S(y)_0 and S(py)_0 gain 1 and 1/C), which makes class 0 present.
 */
export function overlapLoss(
  loss: string,
  options: OverlapOptions,
  score: (counts: SoftCounts, smooth: number) => Tensor,
  label = "",
): LossFn {
  const smooth = options.smooth ?? DEFAULT_SMOOTH;
  const classes = options.classes ?? "present";
  const ignoreIndex = options.ignoreIndex ?? IGNORE_INDEX;
  checkNumber(loss, "smooth", smooth);
  checkClasses(loss, classes);
  const own = lossMasking(loss, options);
  const name = maskingName(`${loss}(${label}${classes})`, own);
  return named(name, (logits: Tensor, targets: Tensor, opts = {}) => {
    const masking = callMasking(loss, own, opts);
    const p = prepare(loss, logits, targets, opts, ignoreIndex, masking);
    const counts = softCounts(p, 1, options.fused);
    const perClass = score(counts, smooth).neg().add(1).reshape([p.classes]);
    return averageClasses(perClass, counts.sy, classes);
  });
}

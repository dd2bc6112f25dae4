/**
 * The soft overlap counts behind the Dice family (Dice, Jaccard, Tversky, Generalized
 * Dice): per class c, over the counted positions M, S(py)_c, S(p)_c and S(y)_c, computed in
 * one pass over `[N, C]` (the S(p) column sums) plus two scatter-adds over N positions for
 * the terms that involve the one-hot targets. Private to `src/losses`.
 * @module
 */
import {
  cast,
  eq,
  gather,
  maximum,
  ne,
  reshape,
  scatterAdd,
  softmax,
  sum,
  type Tensor,
  tensor,
  unsqueeze,
  ValueError,
  where,
  zeros,
} from "../autograd/mod.ts";
import {
  BASE_OPTION_NAMES,
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
import type { DiceOptions } from "./dice.ts";

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
  /** S(p²), with `squared` only: the squared probability mass each class receives. */
  sp2?: Tensor;
  /** S(p² y), with `squared` only: the squared probability of each position's target. */
  tp2?: Tensor;
}

/**
 * Soft counts for `groups` groups of positions: the prepared `[N, C]` logits are viewed as
 * `[groups, N / groups, C]` (for Generalized Dice, one group per sequence). `squared` adds
 * S(p²) and S(p² y). Float32 logits on WebGPU take the fused kernel unless `fused` is false.
 */
export function softCounts(
  prep: Prepared,
  groups = 1,
  fused?: boolean,
  squared = false,
): SoftCounts {
  const { logits, targets, valid, n, classes } = prep;
  if (useFused(logits, fused)) {
    const counts = fusedSoftCounts(logits, targets, valid, groups, squared);
    const row = (k: number) => countsRow(counts, k);
    const base = { sp: row(0), tp: row(1), sy: row(2) };
    return squared ? { ...base, sp2: row(3), tp2: row(4) } : base;
  }
  const per = groups === 0 ? 0 : n / groups;
  const p = reshape(softmax(logits), [groups, per, classes]);
  const t = reshape(targets, [groups, per]);
  const v = reshape(valid, [groups, per]);
  const sp = sum(where(unsqueeze(v, -1), p, 0), 1);
  const pt = reshape(gather(p, 2, unsqueeze(t, -1)), [groups, per]);
  const base = () => zeros([groups, classes], { dtype: p.dtype, backend: p.backend.name });
  const tp = scatterAdd(base(), 1, t, where(v, pt, 0));
  const sy = classCounts(t, v, classes);
  if (!squared) return { tp, sp, sy };
  const sp2 = sum(where(unsqueeze(v, -1), p.square(), 0), 1);
  const tp2 = scatterAdd(base(), 1, t, where(v, pt.square(), 0));
  return { tp, sp, sy, sp2, tp2 };
}

/**
 * The mean of per-class losses `[C]` over the present classes (S(y)_c > 0; 0 when no class
 * is present) or over all classes.
 */
export function averageClasses(perClass: Tensor, sy: Tensor, classes: ClassAverage): Tensor {
  if (classes === "all") return perClass.mean();
  return maskedMean(perClass, sy.gt(0));
}

/**
 * What a unit with nothing to score contributes to its mean: a class absent from a group's
 * targets (S(y)_c = 0) that `classes: "all"` averages, and, with `perSequence`, a sequence
 * with no counted position. `"skip"` leaves it out of the mean, `"zero"` counts it with
 * loss 0, `"one"` with loss 1 (whatever `logLoss` and `gamma` say).
 *
 * @example
 * ```ts
 * import { dice, type EmptyPolicy, tensor } from "@lossforge/core";
 * // Class 2 never occurs and gets a little mass: scored by the formula it is a loss near 1.
 * const logits = tensor([[4, 0, 0], [0, 4, 0]]), targets = tensor([0, 1], { dtype: "int32" });
 * const d = (empty?: EmptyPolicy) => dice({ classes: "all", empty })(logits, targets).item();
 * console.log(await d(), await d("skip"), await d("zero"), await d("one")); // ≈ 0.3511 0.0267 0.0178 0.3512
 * ```
 */
export type EmptyPolicy = "skip" | "zero" | "one";

/** The allowed values of `empty`. */
export const EMPTY_POLICIES: readonly EmptyPolicy[] = ["skip", "zero", "one"];

/**
 * The options every Dice-type loss reads: those of `DiceOptions`, documented there (a type
 * import only, so the two modules do not load each other).
 */
export type OverlapOptions = DiceOptions;

/** The option names of every Dice-type loss (those of {@linkcode OverlapOptions}). */
export const OVERLAP_OPTION_NAMES: readonly string[] = [
  ...BASE_OPTION_NAMES,
  "smooth",
  "classes",
  "fused",
  "logLoss",
  "squared",
  "classWeights",
  "perSequence",
  "empty",
];

/** The floor under a score before `logLoss`'s -log, as smp's `eps` (`clamp_min(1e-7)`). */
export const LOG_LOSS_FLOOR = 1e-7;

/** The floor under a per-class loss before a power `gamma` != 1 (as in `oneMinusPow`). */
const POWER_FLOOR = 1e-30;

/** Throws a ValueError naming `loss` unless `value` is a boolean (or undefined). */
export function checkFlag(loss: string, field: string, value: unknown): void {
  if (value !== undefined && typeof value !== "boolean") {
    throw new ValueError(`${loss}: ${field} must be true or false, got ${JSON.stringify(value)}`);
  }
}

/**
 * Checks per-class weights: an array of finite numbers >= 0 with at least one above 0.
 * Their count is checked against the logits' classes at call time ({@linkcode weightsOf}).
 */
export function checkClassWeights(loss: string, weights: readonly number[] | undefined): void {
  if (weights === undefined) return;
  if (!Array.isArray(weights) || weights.length === 0) {
    throw new ValueError(
      `${loss}: classWeights must be a non-empty array of numbers, got ${JSON.stringify(weights)}`,
    );
  }
  weights.forEach((w, i) => checkNumber(loss, `classWeights[${i}]`, w));
  if (!weights.some((w) => w > 0)) {
    throw new ValueError(`${loss}: classWeights must have an entry above 0, all are 0`);
  }
}

/**
 * The per-class weights `[C]` on `like`'s backend and dtype; a ValueError naming `loss` and
 * both lengths when there are not exactly `classes` of them.
 */
export function weightsOf(
  loss: string,
  weights: readonly number[],
  classes: number,
  like: Tensor,
): Tensor {
  if (weights.length !== classes) {
    throw new ValueError(
      `${loss}: classWeights has ${weights.length} entries but the logits have ${classes} classes`,
    );
  }
  return tensor(weights as number[], {
    dtype: like.dtype,
    backend: like.backend.name,
    shape: [classes],
  });
}

/**
 * Σ w v / Σ w along `axis` over the entries with w != 0 (others, NaN included, are
 * selected away); 0 where Σ w = 0.
 */
export function weightedMean(values: Tensor, weights: Tensor, axis?: number): Tensor {
  const total = axis === undefined ? sum(weights) : sum(weights, axis);
  const num = where(ne(weights, 0), values, 0).mul(weights);
  const top = axis === undefined ? sum(num) : sum(num, axis);
  return top.div(where(eq(total, 0), 1, total));
}

/** `classWeights=[1,2,…]` for names: the first six values, and the count when longer. */
export function weightsLabel(weights: readonly number[]): string {
  const shown = weights.slice(0, 6).join(",");
  return `classWeights=[${shown}${weights.length > 6 ? `,… of ${weights.length}` : ""}]`;
}

/** The option part of a Dice-type loss's name: `log, squared, ...` (empty for defaults). */
function optionsLabel(o: OverlapOptions, gamma: number): string {
  const parts: string[] = [];
  if (gamma !== 1) parts.push(`gamma=${gamma}`);
  if (o.logLoss) parts.push("log");
  if (o.squared) parts.push("squared");
  if (o.classWeights) parts.push(weightsLabel(o.classWeights));
  if (o.perSequence) parts.push("perSequence");
  if (o.empty) parts.push(`empty=${o.empty}`);
  return parts.map((p) => `${p}, `).join("");
}

/**
 * A Dice-type loss `loss`: per group (the whole batch, or each sequence with `perSequence`)
 * and class c, the per-class loss 1 - `score(counts, s)` of the soft counts over the
 * counted positions (-log of the score floored at 1e-7 with `logLoss`; to the power
 * `gamma` when it is not 1), averaged over the classes `classes` says (weighted by
 * `classWeights`), then over the groups. Its name is `loss(<label><options><classes>)`.
 * Checks every option when built. In "paper" masking an ignored position counts as zero
 * logits (S(p)_c gains 1/C for every class) with target 0 (S(y)_0 and S(py)_0 gain 1 and
 * 1/C), which makes class 0 present.
 */
export function overlapLoss(
  loss: string,
  options: OverlapOptions,
  score: (counts: SoftCounts, smooth: number) => Tensor,
  label = "",
  gamma = 1,
): LossFn {
  const smooth = options.smooth ?? DEFAULT_SMOOTH;
  const classes = options.classes ?? "present";
  const ignoreIndex = options.ignoreIndex ?? IGNORE_INDEX;
  const { logLoss = false, squared = false, classWeights, perSequence = false, empty } = options;
  checkNumber(loss, "smooth", smooth);
  checkClasses(loss, classes);
  checkFlag(loss, "logLoss", logLoss);
  checkFlag(loss, "squared", squared);
  checkFlag(loss, "perSequence", perSequence);
  checkClassWeights(loss, classWeights);
  if (empty !== undefined) checkChoice(loss, "empty", empty, EMPTY_POLICIES);
  const own = lossMasking(loss, options);
  const name = maskingName(`${loss}(${label}${optionsLabel(options, gamma)}${classes})`, own);
  const plain = !logLoss && gamma === 1 && !classWeights && !perSequence && !empty;
  return named(name, (logits: Tensor, targets: Tensor, opts = {}) => {
    const masking = callMasking(loss, own, opts);
    const p = prepare(loss, logits, targets, opts, ignoreIndex, masking);
    const groups = perSequence && logits.rank >= 3
      ? logits.shape.slice(0, -2).reduce((a, b) => a * b, 1)
      : 1;
    const counts = softCounts(p, groups, options.fused, squared);
    const s = score(counts, smooth);
    if (plain) return averageClasses(s.neg().add(1).reshape([p.classes]), counts.sy, classes);
    let perClass = logLoss ? maximum(s, LOG_LOSS_FLOOR).log().neg() : s.neg().add(1);
    if (gamma !== 1) perClass = maximum(perClass, POWER_FLOOR).pow(gamma);
    const present = counts.sy.gt(0);
    // The classes each group averages: present ones, or all with `empty` deciding the absent.
    const scoresAll = classes === "all" && empty !== "skip";
    if (scoresAll && empty) perClass = where(present, perClass, empty === "one" ? 1 : 0);
    // Few ops: on WebGPU each `[G, C]` op is a dispatch, and these are most of the cost left
    // beside the fused counts.
    const cw = classWeights &&
      reshape(weightsOf(loss, classWeights, p.classes, perClass), [1, p.classes]);
    let perGroup: Tensor;
    if (scoresAll) perGroup = cw ? weightedMean(perClass, cw, 1) : perClass.mean(1);
    else {
      const w = cast(present, perClass.dtype);
      perGroup = weightedMean(perClass, cw ? w.mul(cw) : w, 1);
    }
    const filled = counts.sy.sum(1).gt(0);
    if (groups === 1 || !empty || empty === "skip") return maskedMean(perGroup, filled);
    // An empty sequence counts as 0 or 1; a batch with no counted position is still 0.
    const value = where(filled, perGroup, empty === "one" ? 1 : 0).mean();
    return where(filled.sum().gt(0), value, 0);
  });
}

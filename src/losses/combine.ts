/**
 * Weighted sums of losses, each term over all counted positions or the answer only.
 * @module
 */
import {
  arange,
  cast,
  expand,
  ge,
  lt,
  min,
  ne,
  noGrad,
  reshape,
  ShapeError,
  type Tensor,
  ValueError,
  where,
} from "../autograd/mod.ts";
import {
  checkChoice,
  checkOptionNames,
  fmtShape,
  type LossCallOptions,
  type LossFn,
  type Masking,
  MASKINGS,
  named,
} from "./_common.ts";

/**
 * Which positions a `combine` term sees: `"all"` counted positions (default) or only the
 * `"answer"` positions (those where the call's `answerMask` is non-zero).
 *
 * @example
 * ```ts
 * import { combine, type CombineMask, crossEntropy, dice, tensor } from "@lossforge/core";
 * const logits = tensor([[0, 0], [2, 0], [0, 2]]), targets = tensor([1, 0, 1], { dtype: "int32" });
 * const answerMask = tensor([0, 1, 1], { dtype: "int32" }); // the answer's tokens
 * const diceOn = (mask: CombineMask) => combine([[crossEntropy(), 1], [dice(), 0.5, { mask }]]);
 * console.log(await diceOn("all")(logits, targets, { answerMask }).item()); // ≈ 0.4423
 * console.log(await diceOn("answer")(logits, targets, { answerMask }).item()); // ≈ 0.3753
 * ```
 */
export type CombineMask = "all" | "answer";

/**
 * One term of `combine`: a loss, its weight, and optionally which positions it sees.
 *
 * @example
 * ```ts
 * import { combine, type CombineTerm, crossEntropy, lovaszSoftmax } from "@lossforge/core";
 * // The terms of a sweep: cross-entropy plus a weight w of Lovász on the answer.
 * const terms = (w: number): CombineTerm[] => [
 *   [crossEntropy(), 1 - w],
 *   [lovaszSoftmax(), w, { mask: "answer" }],
 * ];
 * console.log(combine(terms(0.2)).name); // "0.8·crossEntropy + 0.2·lovaszSoftmax(present)[answer]"
 * ```
 */
export type CombineTerm = readonly [loss: LossFn, weight: number, options?: { mask?: CombineMask }];

/**
 * Call options of a combined loss: the usual `mask` plus `answerMask` (`[...]` like the
 * targets, non-zero at answer tokens), which terms with `mask: "answer"` need.
 *
 * @example
 * ```ts
 * import { combine, type CombineCallOptions, crossEntropy, dice, tensor } from "@lossforge/core";
 * const loss = combine([[crossEntropy(), 1], [dice(), 1, { mask: "answer" }]]);
 * const logits = tensor([[0, 0], [2, 0], [0, 2]]), targets = tensor([1, 0, 1], { dtype: "int32" });
 * // mask: positions every term skips; answerMask: the positions "answer" terms see.
 * const opts: CombineCallOptions = { mask: tensor([1, 1, 1]), answerMask: tensor([0, 1, 1]) };
 * console.log(await loss(logits, targets, opts).item()); // ≈ 0.4349
 * ```
 */
export interface CombineCallOptions extends LossCallOptions {
  /** `[...]`: non-zero at answer positions. */
  answerMask?: Tensor;
}

/**
 * A combined loss: a `LossFn` that also takes `answerMask`.
 *
 * @example
 * ```ts
 * import { combine, type CombinedLossFn, crossEntropy, focal, tensor } from "@lossforge/core";
 * const logits = tensor([[0, 0], [0, 0]]), targets = tensor([0, 1], { dtype: "int32" });
 * const onAnswer = (loss: CombinedLossFn) => loss(logits, targets, { answerMask: tensor([0, 1]) });
 * const loss = combine([[crossEntropy(), 1], [focal(), 1, { mask: "answer" }]]);
 * console.log(loss.name); // "1·crossEntropy + 1·focal(gamma=2)[answer]"
 * console.log(await onAnswer(loss).item()); // ≈ 0.8664
 * ```
 */
export type CombinedLossFn = (
  logits: Tensor,
  targets: Tensor,
  options?: CombineCallOptions,
) => Tensor;

/**
 * Options of `combine` in its object form.
 *
 * @example
 * ```ts
 * import { combine, type CombineOptions, crossEntropy, focal } from "@lossforge/core";
 * const options: CombineOptions = {
 *   terms: [[crossEntropy(), 0.6], [focal(), 0.4, { mask: "answer" }]],
 *   masking: "paper", // the published trainer: every term in paper mode, its answer window
 * };
 * console.log(combine(options).name); // "0.6·crossEntropy + 0.4·focal(gamma=2)[answer] (paper)"
 * ```
 */
export interface CombineOptions {
  /** The `[loss, weight, { mask }?]` terms. */
  terms: readonly CombineTerm[];
  /**
   * When given, every term is called with this masking (overriding its own), and in
   * `"paper"` mode the `mask: "answer"` terms see the published trainer's window. When
   * not given, each term keeps its own masking and no window is applied.
   */
  masking?: Masking;
}

const MASKS: readonly CombineMask[] = ["all", "answer"];

/**
 * The published trainer's window for answer terms, int32 `[...]` like `answer` (non-zero at
 * the answer positions, `[..., T]`, the last axis a sequence): 1 at positions
 * s <= t < T - 1 of every sequence, where s is the earliest answer position of any
 * sequence in the batch; all 0 when no sequence has one. It runs on the tensors' backend
 * (nothing is read back). `combine({ masking: "paper" })` gives it to `mask: "answer"`
 * terms as their `window`.
 *
 * @example
 * ```ts
 * import { tensor, trainerWindow } from "@lossforge/core";
 * // Two sequences (T = 5); answers start at 3 and at 2, so the window is t = 2 and 3.
 * const answer = tensor([[0, 0, 0, 1, 1], [0, 0, 1, 1, 0]], { dtype: "int32" });
 * console.log(await trainerWindow(answer).array()); // [[0, 0, 1, 1, 0], [0, 0, 1, 1, 0]]
 * ```
 */
export function trainerWindow(answer: Tensor): Tensor {
  return noGrad(() => {
    const t = answer.rank === 0 ? 1 : answer.shape[answer.rank - 1];
    const rows = t === 0 ? 0 : answer.size / t;
    const backend = answer.backend.name;
    const at = reshape(arange(t, undefined, 1, { dtype: "int32", backend }), [1, t]);
    if (rows * t === 0) return cast(reshape(answer, answer.shape), "int32").mul(0);
    // The earliest answer position over the batch (t, an empty window, when there is none).
    const start = min(where(ne(reshape(answer, [rows, t]), 0), at, t));
    const inside = cast(ge(at, start), "int32").mul(cast(lt(at, t - 1), "int32"));
    return reshape(expand(inside, [rows, t]), answer.shape);
  });
}

/**
 * A weighted sum of losses, L = Σ_k w_k L_k, where each term L_k sees either every counted
 * position (`mask: "all"`, the default) or only the answer positions (`mask: "answer"`:
 * the call's `mask` combined with its `answerMask`). The paper's GSM8K setting is
 * 0.6 · cross-entropy (all targets) + 0.4 · X (answer tokens). Linear in the weights. Takes
 * the terms as an array or as `{ terms, masking }`.
 *
 * `masking: "paper"` reproduces the published trainer: every term runs in "paper" masking
 * (cross-entropy, as published, still removes ignored positions), and each `mask: "answer"`
 * term sees only the window {@linkcode trainerWindow}: per batch, from the earliest answer
 * position of any sequence to the second-to-last position, where each sequence's own
 * non-answer positions (its prompt, padding) are ignored and so, in this mode, count as zero
 * rows. `masking: "exclude"` calls every term in "exclude" mode; without `masking` each term
 * keeps its own.
 *
 * @example
 * ```ts
 * import { combine, crossEntropy, lovaszSoftmax, tensor } from "@lossforge/core";
 * const loss = combine([[crossEntropy(), 0.6], [lovaszSoftmax(), 0.4, { mask: "answer" }]]);
 * const logits = tensor([[2, 0, 0], [0, 2, 0], [0, 0, 2]]);
 * const targets = tensor([0, 1, 2], { dtype: "int32" });
 * const answerMask = tensor([0, 1, 1], { dtype: "int32" });
 * console.log(await loss(logits, targets, { answerMask }).item()); // ≈ 0.2289
 * ```
 */
export function combine(terms: readonly CombineTerm[] | CombineOptions): CombinedLossFn {
  const list = "terms" in terms ? terms.terms : terms;
  if (!Array.isArray(terms)) checkOptionNames("combine", terms, ["terms", "masking"]);
  const masking = "terms" in terms ? terms.masking : undefined;
  if (masking !== undefined) checkChoice("combine", "masking", masking, MASKINGS);
  if (!Array.isArray(list) || list.length === 0) {
    throw new ValueError("combine: needs at least one [loss, weight] term");
  }
  const parsed = list.map(([loss, weight, opts], k) => {
    if (typeof loss !== "function") {
      throw new ValueError(`combine: term ${k}: the loss must be a function, got ${typeof loss}`);
    }
    if (typeof weight !== "number" || !Number.isFinite(weight)) {
      throw new ValueError(
        `combine: term ${k} (${loss.name}): weight must be finite, got ${weight}`,
      );
    }
    checkOptionNames(`combine: term ${k} (${loss.name})`, opts, ["mask"]);
    const mask = opts?.mask ?? "all";
    checkChoice(`combine: term ${k} (${loss.name})`, "mask", mask, MASKS);
    return { loss, weight, mask };
  });
  const name = parsed
    .map((t) => `${t.weight}·${t.loss.name}${t.mask === "answer" ? "[answer]" : ""}`)
    .join(" + ") + (masking === "paper" ? " (paper)" : "");
  return named(name, (logits: Tensor, targets: Tensor, opts: CombineCallOptions = {}): Tensor => {
    const { mask, answerMask } = opts;
    let answerOnly: Tensor | undefined;
    if (parsed.some((t) => t.mask === "answer")) {
      if (!answerMask) {
        throw new ValueError(
          `combine: a term has mask "answer" but no answerMask was passed (${name})`,
        );
      }
      if (answerMask.shape.join() !== targets.shape.join() || answerMask.rank !== targets.rank) {
        throw new ShapeError(
          `combine: answerMask ${fmtShape(answerMask.shape)} does not match targets ${
            fmtShape(targets.shape)
          }`,
        );
      }
      answerOnly = cast(ne(answerMask, 0), "int32");
      if (mask) answerOnly = answerOnly.mul(cast(ne(mask, 0), "int32"));
    }
    const window = masking === "paper" && answerOnly ? trainerWindow(answerOnly) : undefined;
    let total: Tensor | undefined;
    for (const t of parsed) {
      const call: LossCallOptions = { mask: t.mask === "answer" ? answerOnly : mask };
      if (masking !== undefined) call.masking = masking;
      if (window && t.mask === "answer") call.window = window;
      const value = t.loss(logits, targets, call);
      const term = value.mul(t.weight);
      total = total ? total.add(term) : term;
    }
    return total as Tensor;
  });
}

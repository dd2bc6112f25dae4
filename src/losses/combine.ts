/**
 * Weighted sums of losses, each term over all counted positions or the answer only.
 * @module
 */
import { cast, ne, ShapeError, type Tensor, ValueError } from "../autograd/mod.ts";
import { checkChoice, fmtShape, type LossCallOptions, type LossFn, named } from "./_common.ts";

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

const MASKS: readonly CombineMask[] = ["all", "answer"];

/**
 * A weighted sum of losses, L = Σ_k w_k L_k, where each term L_k sees either every counted
 * position (`mask: "all"`, the default) or only the answer positions (`mask: "answer"`:
 * the call's `mask` combined with its `answerMask`). The paper's GSM8K setting is
 * 0.6 · cross-entropy (all targets) + 0.4 · X (answer tokens). Linear in the weights. Takes
 * the terms as an array or as `{ terms }`.
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
export function combine(
  terms: readonly CombineTerm[] | { terms: readonly CombineTerm[] },
): CombinedLossFn {
  const list = "terms" in terms ? terms.terms : terms;
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
    const mask = opts?.mask ?? "all";
    checkChoice(`combine: term ${k} (${loss.name})`, "mask", mask, MASKS);
    return { loss, weight, mask };
  });
  const name = parsed
    .map((t) => `${t.weight}·${t.loss.name}${t.mask === "answer" ? "[answer]" : ""}`)
    .join(" + ");
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
    let total: Tensor | undefined;
    for (const t of parsed) {
      const value = t.loss(logits, targets, { mask: t.mask === "answer" ? answerOnly : mask });
      const term = value.mul(t.weight);
      total = total ? total.add(term) : term;
    }
    return total as Tensor;
  });
}

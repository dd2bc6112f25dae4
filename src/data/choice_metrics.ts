/**
 * Evaluation of the multiple-choice tasks (OpenBookQA, HellaSwag): letter accuracy and
 * ROUGE-1 of the generated text against the target.
 *
 * @module
 */

/**
 * The answer letter of a generated text: the first ASCII letter after the last
 * `Answer:` when the text has one, else the first ASCII letter of the text (the first
 * letter generated), upper-cased; null when there is none.
 *
 * @example
 * ```ts
 * import { extractLetter } from "@lossforge/core";
 * console.log(extractLetter(" B. the sun"), extractLetter("Context: x\nAnswer: c")); // "B" "C"
 * console.log(extractLetter("42"), extractLetter("")); // null null
 * ```
 */
export function extractLetter(text: string): string | null {
  const at = text.lastIndexOf("Answer:");
  const rest = at < 0 ? text : text.slice(at + "Answer:".length);
  const m = /[A-Za-z]/.exec(rest);
  return m ? m[0].toUpperCase() : null;
}

/**
 * Whether the prediction's letter ({@linkcode extractLetter}) is the reference's (a target
 * such as `"B"`). False when either has no letter.
 *
 * @example
 * ```ts
 * import { letterMatch } from "@lossforge/core";
 * console.log(letterMatch("B", "B"), letterMatch("A. plants", "B"), letterMatch("", "B"));
 * // true false false
 * ```
 */
export function letterMatch(prediction: string, reference: string): boolean {
  const p = extractLetter(prediction);
  return p !== null && p === extractLetter(reference);
}

/**
 * The words ROUGE-1 counts: lower-cased runs of ASCII letters and digits (as the common
 * `rouge_score` tokenizer without stemming).
 *
 * @example
 * ```ts
 * import { rougeTokens } from "@lossforge/core";
 * console.log(rougeTokens("B. The Sun's heat!")); // ["b", "the", "sun", "s", "heat"]
 * ```
 */
export function rougeTokens(text: string): string[] {
  return text.toLowerCase().split(/[^a-z0-9]+/).filter((t) => t !== "");
}

/**
 * ROUGE-1 scores of one prediction.
 *
 * @example
 * ```ts
 * import { rouge1, type Rouge1 } from "@lossforge/core";
 * const r: Rouge1 = rouge1("B. the sun", "B");
 * console.log(r.precision, r.recall, r.f1); // 0.3333333333333333 1 0.5
 * ```
 */
export interface Rouge1 {
  /** Matched unigrams / prediction unigrams. */
  precision: number;
  /** Matched unigrams / reference unigrams. */
  recall: number;
  /** Their harmonic mean (0 when both are 0). */
  f1: number;
}

/**
 * ROUGE-1 of a prediction against a reference: unigram overlap (each word counted as
 * often as it occurs in both, see {@linkcode rougeTokens}). A side with no words gives 0.
 *
 * @param prediction The generated text.
 * @param reference The target.
 * @returns Precision, recall and F1.
 *
 * @example
 * ```ts
 * import { rouge1 } from "@lossforge/core";
 * console.log(rouge1("the cat the", "the cat sat").f1); // 0.6666666666666666
 * ```
 */
export function rouge1(prediction: string, reference: string): Rouge1 {
  const p = rougeTokens(prediction);
  const r = rougeTokens(reference);
  if (p.length === 0 || r.length === 0) return { precision: 0, recall: 0, f1: 0 };
  const counts = new Map<string, number>();
  for (const t of r) counts.set(t, (counts.get(t) ?? 0) + 1);
  let overlap = 0;
  for (const t of p) {
    const n = counts.get(t) ?? 0;
    if (n > 0) {
      overlap++;
      counts.set(t, n - 1);
    }
  }
  const precision = overlap / p.length;
  const recall = overlap / r.length;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1 };
}

/**
 * Mean multiple-choice metrics over a set of predictions.
 *
 * @example
 * ```ts
 * import { type ChoiceMetrics, choiceMetrics } from "@lossforge/core";
 * const m: ChoiceMetrics = choiceMetrics([{ prediction: "B", reference: "B" }]);
 * console.log(m.count, m.accuracy, m.rouge1); // 1 1 1
 * ```
 */
export interface ChoiceMetrics {
  /** Number of pairs averaged. */
  count: number;
  /** Fraction whose letters match ({@linkcode letterMatch}). */
  accuracy: number;
  /** Mean ROUGE-1 F1 against the target ({@linkcode rouge1}). */
  rouge1: number;
}

/**
 * Averages {@linkcode letterMatch} and ROUGE-1 F1 over prediction/reference pairs. With no
 * pairs every mean is 0.
 *
 * @example
 * ```ts
 * import { choiceMetrics } from "@lossforge/core";
 * console.log(choiceMetrics([
 *   { prediction: "B", reference: "B" },
 *   { prediction: "C. the moon", reference: "B" },
 * ])); // { count: 2, accuracy: 0.5, rouge1: 0.5 }
 * ```
 */
export function choiceMetrics(
  pairs: Iterable<{ prediction: string; reference: string }>,
): ChoiceMetrics {
  let count = 0, hits = 0, rouge = 0;
  for (const { prediction, reference } of pairs) {
    count++;
    if (letterMatch(prediction, reference)) hits++;
    rouge += rouge1(prediction, reference).f1;
  }
  const d = count === 0 ? 1 : count;
  return { count, accuracy: hits / d, rouge1: rouge / d };
}

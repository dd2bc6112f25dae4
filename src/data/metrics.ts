/**
 * Evaluation of the math tasks (GSM8K, MathQA): exact match on the final `#### N` answer
 * and step metrics over the sets of `<<...>>` formulas, including the operator and operand
 * error counts and a commutative-aware IoU.
 *
 * @module
 */

import { type ParsedFormula, parseFormula } from "./formula.ts";

const NUMBER_RE = /^([-+\u2212]?)\s*\$?\s*([-+\u2212]?)\s*(\d[\d,]*(?:\.\d+)?|\.\d+)/;

/**
 * Parses a number at the start of `text`: an optional sign, an optional `$`, digits with
 * optional thousands separators (`1,000`) and decimals. Trailing text (a period, units) is
 * ignored. Returns null when `text` does not start with a number.
 *
 * @example
 * ```ts
 * import { parseNumber } from "@lossforge/core";
 * console.log(parseNumber(" $1,250.50."), parseNumber("-3 apples"), parseNumber("abc"));
 * // 1250.5 -3 null
 * ```
 */
export function parseNumber(text: string): number | null {
  const m = NUMBER_RE.exec(text.trimStart());
  if (!m) return null;
  const negative = (m[1] === "-" || m[1] === "\u2212") !== (m[2] === "-" || m[2] === "\u2212");
  const value = Number(m[3].replaceAll(",", ""));
  if (!Number.isFinite(value)) return null;
  return negative ? -value : value;
}

/**
 * The number after the last `####` in `text` (negatives, decimals, `1,000`, `$`, a trailing
 * period are handled), or null if there is no `####` or no number right after it.
 *
 * @example
 * ```ts
 * import { extractAnswer } from "@lossforge/core";
 * console.log(extractAnswer("<<2*3=6>> #### 6")); // 6
 * console.log(extractAnswer("so #### $1,000.")); // 1000
 * console.log(extractAnswer("no answer")); // null
 * ```
 */
export function extractAnswer(text: string): number | null {
  const at = text.lastIndexOf("####");
  if (at < 0) return null;
  return parseNumber(text.slice(at + 4));
}

/**
 * Options of {@linkcode exactMatch}.
 *
 * @example
 * ```ts
 * import { exactMatch, type AnswerMatchOptions } from "@lossforge/core";
 * const options: AnswerMatchOptions = { relTol: 1e-3 };
 * console.log(exactMatch("#### 3.1416", Math.PI, options)); // true
 * ```
 */
export interface AnswerMatchOptions {
  /** Relative tolerance: `|p - r| <= relTol * max(|p|, |r|)` (default 1e-6). */
  relTol?: number;
}

/**
 * Whether the prediction's final answer equals the reference numerically: within a
 * relative tolerance of 1e-6 (`|p - r| <= 1e-6 * max(|p|, |r|)`, as Python's
 * `math.isclose` with that `rel_tol`; so 0 matches only 0). The prediction is read with
 * {@linkcode extractAnswer}; the reference may be a number, a text with `#### N`, or a
 * bare number such as `"1,000"`. False when either has no number.
 *
 * @example
 * ```ts
 * import { exactMatch } from "@lossforge/core";
 * console.log(exactMatch("<<9*2=18>> #### 18.0", "#### 18")); // true
 * console.log(exactMatch("#### 1,000", 1000)); // true
 * console.log(exactMatch("#### 27.675", "#### 27.6750001")); // true: within 1e-6
 * console.log(exactMatch("18", "#### 18")); // false: no #### in the prediction
 * ```
 */
export function exactMatch(
  prediction: string,
  reference: string | number,
  options: AnswerMatchOptions = {},
): boolean {
  const relTol = options.relTol ?? 1e-6;
  if (!(relTol >= 0)) throw new RangeError(`exactMatch: relTol must be >= 0, got ${relTol}`);
  const p = extractAnswer(prediction);
  const r = typeof reference === "number"
    ? reference
    : (extractAnswer(reference) ?? (reference.includes("####") ? null : parseNumber(reference)));
  if (p === null || r === null || !Number.isFinite(r)) return false;
  return p === r || Math.abs(p - r) <= relTol * Math.max(Math.abs(p), Math.abs(r));
}

/**
 * The set of `<<...>>` formulas in `text`, normalised by removing all whitespace (so
 * `<< 2 * 3 = 6 >>` and `<<2*3=6>>` are the same step).
 *
 * @example
 * ```ts
 * import { extractFormulas } from "@lossforge/core";
 * console.log(extractFormulas("<<2 * 3=6>> then <<6+1=7>> #### 7"));
 * // Set {"<<2*3=6>>", "<<6+1=7>>"}
 * ```
 */
export function extractFormulas(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/<<(.*?)>>/gs)) out.add(m[0].replace(/\s+/g, ""));
  return out;
}

/**
 * Step metrics comparing predicted and reference formula sets.
 *
 * @example
 * ```ts
 * import { stepMetrics, type StepMetrics } from "@lossforge/core";
 * const m: StepMetrics = stepMetrics("<<1+1=2>>", "<<1+1=2>> <<2*3=6>>");
 * console.log(m.precision, m.recall, m.missing); // 1 0.5 1: right so far, one step short
 * ```
 */
export interface StepMetrics {
  /** |P ∩ R| / |P ∪ R|. */
  iou: number;
  /** 2 |P ∩ R| / (|P| + |R|). */
  dice: number;
  /** |P ∩ R| / |P|. */
  precision: number;
  /** |P ∩ R| / |R|. */
  recall: number;
  /** |R \ P|: reference steps the prediction lacks. */
  missing: number;
  /** |P \ R|: predicted steps not in the reference. */
  extra: number;
}

/**
 * Compares the `<<...>>` formula sets P (prediction) and R (reference), normalised as in
 * {@linkcode extractFormulas}. Either argument may be a text or an already extracted set.
 * When both sets are empty, iou = dice = precision = recall = 1; otherwise a ratio whose
 * denominator is 0 (precision with P empty, recall with R empty) is 0.
 *
 * @example
 * ```ts
 * import { stepMetrics } from "@lossforge/core";
 * console.log(stepMetrics("<<1+1=2>> <<2*5=10>> #### 10", "<<1+1=2>> <<2*4=8>> #### 8"));
 * // { iou: 1/3, dice: 0.5, precision: 0.5, recall: 0.5, missing: 1, extra: 1 }
 * ```
 */
export function stepMetrics(
  prediction: string | ReadonlySet<string>,
  reference: string | ReadonlySet<string>,
): StepMetrics {
  const p = typeof prediction === "string" ? extractFormulas(prediction) : prediction;
  const r = typeof reference === "string" ? extractFormulas(reference) : reference;
  if (p.size === 0 && r.size === 0) {
    return { iou: 1, dice: 1, precision: 1, recall: 1, missing: 0, extra: 0 };
  }
  let inter = 0;
  for (const f of p) if (r.has(f)) inter++;
  const union = p.size + r.size - inter;
  return {
    iou: inter / union,
    dice: (2 * inter) / (p.size + r.size),
    precision: p.size === 0 ? 0 : inter / p.size,
    recall: r.size === 0 ? 0 : inter / r.size,
    missing: r.size - inter,
    extra: p.size - inter,
  };
}

/**
 * Mean metrics over a set of predictions.
 *
 * @example
 * ```ts
 * import { type AggregateMetrics, aggregateMetrics } from "@lossforge/core";
 * const m: AggregateMetrics = aggregateMetrics([
 *   { prediction: "#### 1", reference: "#### 1" },
 *   { prediction: "#### 2", reference: "#### 3" },
 * ]);
 * console.log(m.count, m.exactMatch); // 2 0.5
 * ```
 */
export interface AggregateMetrics extends StepMetrics {
  /** Number of pairs averaged. */
  count: number;
  /** Fraction of pairs whose final answers match ({@linkcode exactMatch}). */
  exactMatch: number;
}

/**
 * Averages {@linkcode exactMatch} and {@linkcode stepMetrics} over prediction/reference
 * pairs (`missing` and `extra` become mean counts per example). With no pairs every mean is
 * 0 and `count` is 0.
 *
 * @example
 * ```ts
 * import { aggregateMetrics } from "@lossforge/core";
 * const m = aggregateMetrics([
 *   { prediction: "<<2*3=6>> #### 6", reference: "<<2*3=6>> #### 6" },
 *   { prediction: "<<2*3=5>> #### 5", reference: "<<2*3=6>> #### 6" },
 * ]);
 * console.log(m.exactMatch, m.iou); // 0.5 0.5
 * ```
 */
export function aggregateMetrics(
  pairs: Iterable<{ prediction: string; reference: string }>,
): AggregateMetrics {
  const sum = { exactMatch: 0, iou: 0, dice: 0, precision: 0, recall: 0, missing: 0, extra: 0 };
  let count = 0;
  for (const { prediction, reference } of pairs) {
    count++;
    if (exactMatch(prediction, reference)) sum.exactMatch++;
    const s = stepMetrics(prediction, reference);
    sum.iou += s.iou;
    sum.dice += s.dice;
    sum.precision += s.precision;
    sum.recall += s.recall;
    sum.missing += s.missing;
    sum.extra += s.extra;
  }
  const d = count === 0 ? 1 : count;
  return {
    count,
    exactMatch: sum.exactMatch / d,
    iou: sum.iou / d,
    dice: sum.dice / d,
    precision: sum.precision / d,
    recall: sum.recall / d,
    missing: sum.missing / d,
    extra: sum.extra / d,
  };
}

/**
 * The `<<...>>` formulas of `text` in order, duplicates kept, each normalised as in
 * {@linkcode extractFormulas} (whitespace removed).
 *
 * @example
 * ```ts
 * import { formulaList } from "@lossforge/core";
 * console.log(formulaList("<<1+1=2>> <<2 * 3=6>> <<1+1=2>>"));
 * // ["<<1+1=2>>", "<<2*3=6>>", "<<1+1=2>>"]
 * ```
 */
export function formulaList(text: string): string[] {
  return Array.from(text.matchAll(/<<(.*?)>>/gs), (m) => m[0].replace(/\s+/g, ""));
}

/**
 * {@linkcode StepMetrics} and the paper's other step measures for one prediction.
 *
 * @example
 * ```ts
 * import { formulaMetrics, type FormulaMetrics } from "@lossforge/core";
 * const m: FormulaMetrics = formulaMetrics("<<3+2=5>> <<5-1=4>>", "<<2+3=5>> <<1-5=4>>");
 * console.log(m.iou, m.commutativeIou, m.invertedOperands); // 0 0.3333333333333333 1
 * ```
 */
export interface FormulaMetrics extends StepMetrics {
  /** Overlap index |P ∩ R| / min(|P|, |R|). */
  overlap: number;
  /** Formulas the prediction writes more than once (occurrences beyond the first). */
  repetitions: number;
  /** Unmatched predicted steps with a reference step's operands in order but other operators. */
  wrongOperators: number;
  /** Unmatched predicted steps with a reference step's operators and operands, reordered. */
  invertedOperands: number;
  /** IoU where steps equal up to commutative swaps (`a+b` and `b+a`) match. */
  commutativeIou: number;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sortedCopy(a: readonly string[]): string[] {
  return [...a].sort();
}

/**
 * Compares the `<<...>>` formulas of a prediction and a reference (texts, or for P and R
 * already extracted sets; repetitions need the text). Besides {@linkcode stepMetrics}:
 *
 * - `overlap`: |P ∩ R| / min(|P|, |R|);
 * - `repetitions`: predicted formulas written again after their first occurrence;
 * - `wrongOperators`: predicted steps not in R that have the operands of a step of R \ P,
 *   in the same order, but different operator classes (`48+2` for `48/2`);
 * - `invertedOperands`: predicted steps not in R (and not counted above) that have the
 *   operator classes of a step of R \ P and the same operands in another order, and are not
 *   equal to it up to commutative swaps (`2/48` for `48/2`, but not `3+2` for `2+3`);
 * - `commutativeIou`: m / (|P| + |R| - m), where m pairs steps of P and R whose
 *   {@linkcode parseFormula} canonical forms are equal, each step used once (so `a+b`
 *   matches `b+a`); it is never below `iou`.
 *
 * Each reference step explains at most one predicted step. With both sets empty, iou,
 * dice, overlap, precision, recall and commutativeIou are 1; a ratio over an empty set is
 * otherwise 0. Results (after `=`) are ignored by the operator and operand counts.
 *
 * @param prediction The generated text (or its formula set).
 * @param reference The reference target (or its formula set).
 * @returns The metrics.
 *
 * @example
 * ```ts
 * import { formulaMetrics } from "@lossforge/core";
 * const m = formulaMetrics(
 *   "<<48*2=96>> <<6-24=-18>> <<6-24=-18>> #### -18",
 *   "<<48/2=24>> <<24-6=18>> #### 18",
 * );
 * console.log(m.wrongOperators, m.invertedOperands, m.repetitions); // 1 1 1
 * console.log(m.iou, m.missing, m.extra); // 0 2 2
 * ```
 */
export function formulaMetrics(
  prediction: string | ReadonlySet<string>,
  reference: string | ReadonlySet<string>,
): FormulaMetrics {
  const pList = typeof prediction === "string" ? formulaList(prediction) : [...prediction];
  const p = new Set(pList);
  const r = typeof reference === "string" ? extractFormulas(reference) : reference;
  const base = stepMetrics(p, r);
  let inter = 0;
  for (const f of p) if (r.has(f)) inter++;
  const overlap = p.size === 0 && r.size === 0
    ? 1
    : Math.min(p.size, r.size) === 0
    ? 0
    : inter / Math.min(p.size, r.size);
  const parsed = new Map<string, ParsedFormula>();
  const read = (f: string) => {
    let v = parsed.get(f);
    if (v === undefined) parsed.set(f, v = parseFormula(f));
    return v;
  };
  const unmatchedP = [...p].filter((f) => !r.has(f));
  const unmatchedR = [...r].filter((f) => !p.has(f));
  const usedR = new Set<string>();
  const usedP = new Set<string>();
  let wrongOperators = 0;
  for (const f of unmatchedP) {
    const a = read(f);
    if (!a.parsed) continue;
    const hit = unmatchedR.find((g) => {
      const b = read(g);
      return !usedR.has(g) && b.parsed && sameList(a.operands, b.operands) &&
        a.operators.length === b.operators.length && !sameList(a.operators, b.operators);
    });
    if (hit !== undefined) {
      usedR.add(hit);
      usedP.add(f);
      wrongOperators++;
    }
  }
  let invertedOperands = 0;
  for (const f of unmatchedP) {
    if (usedP.has(f)) continue;
    const a = read(f);
    if (!a.parsed || a.operands.length < 2) continue;
    const hit = unmatchedR.find((g) => {
      const b = read(g);
      return !usedR.has(g) && b.parsed && sameList(a.operators, b.operators) &&
        !sameList(a.operands, b.operands) &&
        sameList(sortedCopy(a.operands), sortedCopy(b.operands)) &&
        a.canonical !== b.canonical;
    });
    if (hit !== undefined) {
      usedR.add(hit);
      invertedOperands++;
    }
  }
  // Maximum matching under "same canonical form": per canonical class, min of the counts.
  const countP = new Map<string, number>();
  const countR = new Map<string, number>();
  for (const f of p) countP.set(read(f).canonical, (countP.get(read(f).canonical) ?? 0) + 1);
  for (const f of r) countR.set(read(f).canonical, (countR.get(read(f).canonical) ?? 0) + 1);
  let matched = 0;
  for (const [c, n] of countP) matched += Math.min(n, countR.get(c) ?? 0);
  const unionC = p.size + r.size - matched;
  return {
    ...base,
    overlap,
    repetitions: pList.length - p.size,
    wrongOperators,
    invertedOperands,
    commutativeIou: unionC === 0 ? 1 : matched / unionC,
  };
}

/**
 * Mean math-task metrics over a set of predictions: exact match and every
 * {@linkcode FormulaMetrics} field.
 *
 * @example
 * ```ts
 * import { type MathMetrics, mathMetrics } from "@lossforge/core";
 * const pair = { prediction: "<<3+2=5>> #### 5", reference: "<<2+3=5>> #### 5" };
 * const m: MathMetrics = mathMetrics([pair]);
 * console.log(m.exactMatch, m.iou, m.commutativeIou); // 1 0 1
 * ```
 */
export interface MathMetrics extends FormulaMetrics {
  /** Number of pairs averaged. */
  count: number;
  /** Fraction of pairs whose final answers match ({@linkcode exactMatch}). */
  exactMatch: number;
}

/**
 * Averages {@linkcode exactMatch} and {@linkcode formulaMetrics} over prediction/reference
 * pairs (counts become mean counts per example). With no pairs every mean is 0.
 *
 * @example
 * ```ts
 * import { mathMetrics } from "@lossforge/core";
 * const m = mathMetrics([
 *   { prediction: "<<divide(n0,n1)>> #### 30.0", reference: "<<divide(n0,n1)>> #### 30.0" },
 *   { prediction: "<<divide(n1,n0)>> #### 0.03", reference: "<<divide(n0,n1)>> #### 30.0" },
 * ]);
 * console.log(m.exactMatch, m.iou, m.invertedOperands); // 0.5 0.5 0.5
 * ```
 */
export function mathMetrics(
  pairs: Iterable<{ prediction: string; reference: string }>,
): MathMetrics {
  const keys = [
    "iou",
    "dice",
    "precision",
    "recall",
    "missing",
    "extra",
    "overlap",
    "repetitions",
    "wrongOperators",
    "invertedOperands",
    "commutativeIou",
  ] as const;
  const sum: Record<(typeof keys)[number], number> = Object.fromEntries(
    keys.map((k) => [k, 0]),
  ) as Record<(typeof keys)[number], number>;
  let count = 0;
  let em = 0;
  for (const { prediction, reference } of pairs) {
    count++;
    if (exactMatch(prediction, reference)) em++;
    const m = formulaMetrics(prediction, reference);
    for (const k of keys) sum[k] += m[k];
  }
  const d = count === 0 ? 1 : count;
  const means = Object.fromEntries(keys.map((k) => [k, sum[k] / d])) as Record<
    (typeof keys)[number],
    number
  >;
  return { count, exactMatch: em / d, ...means };
}

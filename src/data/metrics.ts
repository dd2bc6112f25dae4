/**
 * GSM8K evaluation: exact match on the final `#### N` answer and step metrics over the sets
 * of `<<...>>` calculator formulas.
 *
 * @module
 */

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
 * Whether the prediction's final answer equals the reference numerically. The prediction
 * is read with {@linkcode extractAnswer}; the reference may be a number, a text with
 * `#### N`, or a bare number such as `"1,000"`. False when either has no number.
 *
 * @example
 * ```ts
 * import { exactMatch } from "@lossforge/core";
 * console.log(exactMatch("<<9*2=18>> #### 18.0", "#### 18")); // true
 * console.log(exactMatch("#### 1,000", 1000)); // true
 * console.log(exactMatch("18", "#### 18")); // false: no #### in the prediction
 * ```
 */
export function exactMatch(prediction: string, reference: string | number): boolean {
  const p = extractAnswer(prediction);
  const r = typeof reference === "number"
    ? reference
    : (extractAnswer(reference) ?? (reference.includes("####") ? null : parseNumber(reference)));
  if (p === null || r === null || !Number.isFinite(r)) return false;
  return p === r || Math.abs(p - r) <= 1e-9 * Math.max(1, Math.abs(r));
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

/**
 * MathQA: the paper's format (the `linear_formula` steps as `<<...>>` annotations, then
 * `#### answer`), the numeric answer of the correct option, and the task over
 * MathQA.zip (train/dev/test.json) or the Hub's parquet export.
 *
 * @module
 */

import { DataError } from "./errors.ts";
import { defineTask, type Task, type TaskFormatted, type TaskSpec } from "./task.ts";
import { show } from "../util/show.ts";

/**
 * One MathQA record, as in train/dev/test.json and the parquet export.
 *
 * @example
 * ```ts
 * import { formatMathQa, type MathQaRecord } from "@lossforge/core";
 * const r: MathQaRecord = {
 *   Problem: "a train covers 60 km in 2 hours . find its speed",
 *   options: "a ) 20 , b ) 30 , c ) 40 , d ) 50 , e ) 60",
 *   correct: "b",
 *   linear_formula: "divide(n0,n1)|",
 * };
 * console.log(formatMathQa(r).target); // "<<divide(n0,n1)>> #### 30.0"
 * ```
 */
export interface MathQaRecord {
  /** The word problem. */
  Problem: string;
  /** The five options, `a ) ... , b ) ... , ...`. */
  options: string;
  /** The letter of the correct option, `a` to `e`. */
  correct: string;
  /** The solution program, steps separated by `|` (usually with a trailing `|`). */
  linear_formula: string;
  /** The worked rationale (not used by the paper's format). */
  Rationale?: string;
  /** The program in nested form (not used by the paper's format). */
  annotated_formula?: string;
  /** The problem's category (`gain`, `physics`, ...). */
  category?: string;
}

const OPTION_MARK = /(?:^|,)\s*[\['"]*\s*([a-e])\s*\)/g;

/**
 * The options of a MathQA `options` string by letter, each with its `x )` prefix and
 * surrounding spaces (and the quotes of the list-shaped strings some records have) removed.
 * Options are found by their `a )` ... `e )` markers at the start or after a comma, so a
 * comma inside an option (`1,200`) does not split it.
 *
 * @param options The `options` field.
 * @returns The option texts, keyed `a` to `e` (those present).
 *
 * @example
 * ```ts
 * import { mathQaOptions } from "@lossforge/core";
 * console.log(mathQaOptions("a ) rs . 400 , b ) 1,200 , c ) none"));
 * // { a: "rs . 400", b: "1,200", c: "none" }
 * ```
 */
export function mathQaOptions(options: string): Record<string, string> {
  const marks = [...options.matchAll(OPTION_MARK)];
  const out: Record<string, string> = {};
  for (let i = 0; i < marks.length; i++) {
    const m = marks[i];
    const start = (m.index ?? 0) + m[0].length;
    const end = i + 1 < marks.length ? marks[i + 1].index ?? options.length : options.length;
    const text = options.slice(start, end).trim().replace(/^['"]+|['"\]]+$/g, "").trim();
    if (!(m[1] in out)) out[m[1]] = text;
  }
  return out;
}

const PY_FLOAT = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?$/i;

/**
 * The number an option text holds, as the paper reads it: characters before the first
 * digit are dropped (a `-` or `.` right before it is kept) and so are characters after
 * the last digit; the rest must then be a plain decimal number (what Python's `float`
 * accepts), else null. So `rs . 400` is 400 and `12.5 %` is 12.5, while `1,200`, `5 / 7`
 * and `none of these` are null.
 *
 * @example
 * ```ts
 * import { mathQaNumber } from "@lossforge/core";
 * console.log(mathQaNumber("rs . 400"), mathQaNumber("-2.5 m"), mathQaNumber("5 / 7"));
 * // 400 -2.5 null
 * ```
 */
export function mathQaNumber(text: string): number | null {
  const first = text.search(/\d/);
  if (first < 0) return null;
  let start = first;
  if (start > 0 && text[start - 1] === ".") start--;
  if (start > 0 && text[start - 1] === "-") start--;
  let last = text.length - 1;
  while (last >= 0 && !/\d/.test(text[last])) last--;
  const core = text.slice(start, last + 1);
  if (!PY_FLOAT.test(core)) return null;
  const value = Number(core);
  return Number.isFinite(value) ? value : null;
}

/**
 * A number as Python's `repr(float(x))` prints it (`6.0`, `27.675`, `1e-05`, `1e+16`), so
 * MathQA targets match the paper's byte for byte. The digits are the shortest that
 * round-trip, which JavaScript and Python agree on; only the layout differs.
 *
 * @example
 * ```ts
 * import { pythonFloat } from "@lossforge/core";
 * console.log(pythonFloat(6), pythonFloat(27.675), pythonFloat(0.00001), pythonFloat(-0.5));
 * // "6.0" "27.675" "1e-05" "-0.5"
 * ```
 */
export function pythonFloat(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mantissa, expText] = x.toExponential().split("e");
  const exp = Number(expText);
  const negative = mantissa.startsWith("-");
  const digits = mantissa.replace("-", "").replace(".", "");
  const sign = negative ? "-" : "";
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = `${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
    return `${sign}${m}e${e}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
  const frac = digits.slice(exp + 1);
  return `${sign}${intPart}.${frac === "" ? "0" : frac}`;
}

/**
 * The numeric answer of a MathQA record: the option `correct` picks, read with
 * {@linkcode mathQaNumber}; null when that option holds no plain number (the paper drops
 * such records).
 *
 * @example
 * ```ts
 * import { mathQaAnswer } from "@lossforge/core";
 * const r = { Problem: "?", options: "a ) 38 , b ) 27.675", correct: "b", linear_formula: "" };
 * console.log(mathQaAnswer(r)); // 27.675
 * ```
 */
export function mathQaAnswer(record: MathQaRecord): number | null {
  const text = mathQaOptions(record.options)[record.correct];
  return text === undefined ? null : mathQaNumber(text);
}

/**
 * The steps of a `linear_formula`: split on `|`, the empty piece after a trailing `|`
 * dropped.
 *
 * @example
 * ```ts
 * import { mathQaSteps } from "@lossforge/core";
 * console.log(mathQaSteps("divide(n0,n1)|multiply(#0,const_100)|"));
 * // ["divide(n0,n1)", "multiply(#0,const_100)"]
 * ```
 */
export function mathQaSteps(linearFormula: string): string[] {
  const steps = linearFormula.split("|");
  if (steps.length > 0 && steps[steps.length - 1] === "") steps.pop();
  return steps;
}

/**
 * Formats a MathQA record as the paper does. Prompt: `Question: {Problem}\nAnswer: `;
 * target: each step of `linear_formula` as `<<step>>`, joined by single spaces, then
 * ` #### {answer}` with the answer printed as a Python float (just `#### {answer}` when
 * there are no steps). Throws a {@linkcode DataError} when the correct option holds no
 * number (the loader counts these as dropped).
 *
 * @param record The record.
 * @returns Prompt, target and the reference answer (as in the target).
 *
 * @example
 * ```ts
 * import { formatMathQa } from "@lossforge/core";
 * const f = formatMathQa({
 *   Problem: "what is 15 % of 40 ?",
 *   options: "a ) 4 , b ) 6 , c ) 8 , d ) 10 , e ) 12",
 *   correct: "b",
 *   linear_formula: "divide(n0,const_100)|multiply(n1,#0)|",
 * });
 * console.log(f.prompt); // "Question: what is 15 % of 40 ?\nAnswer: "
 * console.log(f.target); // "<<divide(n0,const_100)>> <<multiply(n1,#0)>> #### 6.0"
 * ```
 */
export function formatMathQa(record: MathQaRecord): TaskFormatted {
  const answer = mathQaAnswer(record);
  if (answer === null) {
    const option = mathQaOptions(record.options)[record.correct];
    throw new DataError(
      `answer is not a number: option ${record.correct} is ${show(option ?? "missing")}`,
    );
  }
  const reference = pythonFloat(answer);
  const steps = mathQaSteps(record.linear_formula).map((s) => `<<${s}>>`);
  const target = steps.length > 0 ? `${steps.join(" ")} #### ${reference}` : `#### ${reference}`;
  return { prompt: `Question: ${record.Problem}\nAnswer: `, target, reference };
}

/**
 * Checks one MathQA record and returns it, or what is wrong with it.
 *
 * @example
 * ```ts
 * import { checkMathQaRecord } from "@lossforge/core";
 * const r = { Problem: "p", options: "a ) 1", correct: "z", linear_formula: "" };
 * console.log(checkMathQaRecord(r));
 * // 'field "correct" must be a letter a-e, got "z"'
 * ```
 */
export function checkMathQaRecord(value: unknown): MathQaRecord | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return `expected an object with "Problem", "options", "correct" and "linear_formula", ` +
      `got ${show(value, 80)}`;
  }
  const obj = value as Record<string, unknown>;
  for (const field of ["Problem", "options", "correct", "linear_formula"]) {
    if (obj[field] === undefined || obj[field] === null) {
      return `field "${field}" is missing in ${show(value, 80)}`;
    }
    if (typeof obj[field] !== "string") {
      return `field "${field}" must be a string, got ${show(obj[field], 60)}`;
    }
  }
  for (const field of ["Rationale", "annotated_formula", "category"]) {
    if (obj[field] !== undefined && obj[field] !== null && typeof obj[field] !== "string") {
      return `field "${field}" must be a string, got ${show(obj[field], 60)}`;
    }
  }
  const correct = (obj.correct as string).trim();
  if (!/^[a-e]$/.test(correct)) {
    return `field "correct" must be a letter a-e, got ${show(obj.correct)}`;
  }
  if ((obj.Problem as string).trim() === "") return `field "Problem" is empty`;
  const record: MathQaRecord = {
    Problem: obj.Problem as string,
    options: obj.options as string,
    correct,
    linear_formula: obj.linear_formula as string,
  };
  for (const field of ["Rationale", "annotated_formula", "category"] as const) {
    if (typeof obj[field] === "string") record[field] = obj[field] as string;
  }
  return record;
}

/**
 * The MathQA task description that {@linkcode mathQaTask} is built from.
 *
 * @example
 * ```ts
 * import { MATHQA_SPEC } from "./mathqa.ts";
 * console.log(MATHQA_SPEC.archive); // "MathQA.zip"
 * ```
 */
export const MATHQA_SPEC: TaskSpec<MathQaRecord> = {
  name: "mathqa",
  title: "MathQA",
  maxLength: 1024,
  answerKind: "number",
  homepage: "https://math-qa.github.io/math-QA/",
  files: Object.freeze([{
    name: "MathQA.zip",
    url: "https://math-qa.github.io/math-QA/data/MathQA.zip",
    sha256: "7344f30456a7aef3176d4866cc953b35b41bec44eda6b00cdbcfde2876b2f07a",
    bytes: 7302821,
  }]),
  archive: "MathQA.zip",
  reader: "json",
  splits: {
    train: { file: { original: "train.json", parquet: "train" } },
    validation: { file: { original: "dev.json", parquet: "validation" } },
    test: { file: { original: "test.json", parquet: "test" } },
  },
  describe: { train: "train.json", validation: "dev.json", test: "test.json" },
  parse: checkMathQaRecord,
  format: formatMathQa,
};

/**
 * MathQA as a {@linkcode Task}: prompt `Question: {Problem}\nAnswer: `, target the
 * `linear_formula` steps as `<<step>>` then `#### {answer}`, 1,024 tokens; records whose
 * correct option is not a number are dropped (counted in `dropped`, listed in `drops`).
 * Reads MathQA.zip (or its unzipped train/dev/test.json) or the Hub's parquet export.
 *
 * @example
 * ```ts
 * import { mathQaTask } from "@lossforge/core";
 * const data = await mathQaTask.load({ path: "data/mathqa", split: "train" });
 * console.log(`${data.examples.length} kept, ${data.dropped} dropped (answer not a number)`);
 * ```
 */
export const mathQaTask: Task<MathQaRecord> = defineTask(MATHQA_SPEC);

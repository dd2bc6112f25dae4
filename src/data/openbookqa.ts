/**
 * OpenBookQA ("additional" configuration, with the core fact `fact1`): the paper's prompt
 * (question, lettered choices, the fact as context) with the answer letter as target, over
 * OpenBookQA-V1-Sep2018.zip or the Hub's parquet export.
 *
 * @module
 */

import { defineTask, type Task, type TaskFormatted, type TaskSpec } from "./task.ts";
import { show } from "../util/show.ts";

/**
 * One OpenBookQA question, the same for both file shapes (the original nests the stem and
 * choices under `question`; the parquet export has `question_stem` and `choices` as two
 * parallel lists).
 *
 * @example
 * ```ts
 * import { formatOpenBookQa, type OpenBookQaRecord } from "@lossforge/core";
 * const r: OpenBookQaRecord = {
 *   id: "7-980",
 *   stem: "The sun is responsible for",
 *   choices: [
 *     { label: "A", text: "puppies learning new tricks" },
 *     { label: "B", text: "plants sprouting, blooming and wilting" },
 *   ],
 *   fact1: "the sun is the source of energy for physical cycles on Earth",
 *   answerKey: "B",
 * };
 * console.log(formatOpenBookQa(r).target); // "B"
 * ```
 */
export interface OpenBookQaRecord {
  /** The question id (`7-980`). */
  id: string;
  /** The question stem. */
  stem: string;
  /** The choices in order, each with its letter. */
  choices: { label: string; text: string }[];
  /** The core science fact the question was written from. */
  fact1: string;
  /** The letter of the right choice. */
  answerKey: string;
}

/**
 * Formats an OpenBookQA question as the paper does: `Question: {stem}\n`, one line
 * `{label}. {text}` per choice, then `\nContext: {fact1}\nAnswer: `; the target is the
 * answer letter.
 *
 * @param record The question.
 * @returns Prompt, target and reference (both the letter).
 *
 * @example
 * ```ts
 * import { formatOpenBookQa } from "@lossforge/core";
 * const f = formatOpenBookQa({
 *   id: "1", stem: "Frilled sharks and angler fish live far beneath the surface of the ocean, " +
 *     "which is why they are known as", fact1: "deep sea animals live deep in the ocean",
 *   answerKey: "A",
 *   choices: [{ label: "A", text: "Deep sea animals" }, { label: "B", text: "fish" }],
 * });
 * console.log(f.prompt);
 * // "Question: Frilled sharks ... known as\nA. Deep sea animals\nB. fish\n" +
 * //   "Context: deep sea animals live deep in the ocean\nAnswer: "
 * ```
 */
export function formatOpenBookQa(record: OpenBookQaRecord): TaskFormatted {
  const lines = record.choices.map((c) => `${c.label}. ${c.text}`);
  const prompt = `Question: ${record.stem}\n${lines.join("\n")}\nContext: ${record.fact1}\n` +
    `Answer: `;
  return { prompt, target: record.answerKey, reference: record.answerKey };
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Checks one OpenBookQA record in either shape and returns it as an
 * {@linkcode OpenBookQaRecord}, or what is wrong with it. A record without `fact1` (the
 * "main" configuration) is refused: the paper's prompt needs the fact.
 *
 * @example
 * ```ts
 * import { checkOpenBookQaRecord } from "@lossforge/core";
 * const row = {
 *   id: "1", question_stem: "q", fact1: "f", answerKey: "A",
 *   choices: { text: ["x", "y"], label: ["A", "B"] },
 * };
 * console.log(checkOpenBookQaRecord(row)); // { id: "1", stem: "q", choices: [...], ... }
 * ```
 */
export function checkOpenBookQaRecord(value: unknown): OpenBookQaRecord | string {
  if (!isObj(value)) return `expected an object, got ${show(value, 80)}`;
  let stem: unknown;
  let choices: { label: unknown; text: unknown }[];
  if ("question" in value) {
    const q = value.question;
    if (!isObj(q)) return `field "question" must be an object, got ${show(q, 60)}`;
    stem = q.stem;
    if (!Array.isArray(q.choices)) {
      return `field "question.choices" must be a list, got ${show(q.choices, 60)}`;
    }
    choices = [];
    for (const c of q.choices) {
      if (!isObj(c)) return `each of "question.choices" must be an object, got ${show(c, 60)}`;
      choices.push({ label: c.label, text: c.text });
    }
    if (typeof stem !== "string") {
      return `field "question.stem" must be a string, got ${show(stem, 60)}`;
    }
  } else if ("question_stem" in value) {
    stem = value.question_stem;
    const c = value.choices;
    if (!isObj(c) || !Array.isArray(c.text) || !Array.isArray(c.label)) {
      return `field "choices" must be {text: [...], label: [...]}, got ${show(c, 60)}`;
    }
    if (c.text.length !== c.label.length) {
      return `field "choices" has ${c.text.length} texts but ${c.label.length} labels`;
    }
    const texts = c.text, labels = c.label;
    choices = texts.map((text, i) => ({ label: labels[i], text }));
    if (typeof stem !== "string") {
      return `field "question_stem" must be a string, got ${show(stem, 60)}`;
    }
  } else {
    return `expected "question" (original) or "question_stem" (parquet) in ${show(value, 80)}`;
  }
  if (choices.length === 0) return `the question has no choices`;
  for (const c of choices) {
    if (typeof c.label !== "string" || typeof c.text !== "string") {
      return `each choice needs a string label and text, got ${show(c, 60)}`;
    }
  }
  for (const field of ["answerKey", "fact1"]) {
    if (value[field] === undefined || value[field] === null) {
      return `field "${field}" is missing` +
        (field === "fact1" ? ` (use the "additional" configuration, *_complete.jsonl)` : "");
    }
    if (typeof value[field] !== "string") {
      return `field "${field}" must be a string, got ${show(value[field], 60)}`;
    }
  }
  const answerKey = value.answerKey as string;
  const typed = choices as { label: string; text: string }[];
  if (!typed.some((c) => c.label === answerKey)) {
    return `answerKey ${show(answerKey)} is not one of the labels ` +
      show(typed.map((c) => c.label));
  }
  const id = typeof value.id === "string" ? value.id : String(value.id ?? "");
  return { id, stem: stem as string, choices: typed, fact1: value.fact1 as string, answerKey };
}

/**
 * The OpenBookQA task description that {@linkcode openBookQaTask} is built from.
 *
 * @example
 * ```ts
 * import { OPENBOOKQA_SPEC } from "./openbookqa.ts";
 * console.log(OPENBOOKQA_SPEC.splits.test.file.original);
 * // "Data/Additional/test_complete.jsonl"
 * ```
 */
export const OPENBOOKQA_SPEC: TaskSpec<OpenBookQaRecord> = {
  name: "openbookqa",
  title: "OpenBookQA",
  maxLength: 128,
  answerKind: "letter",
  homepage: "https://allenai.org/data/open-book-qa",
  files: Object.freeze([{
    name: "OpenBookQA-V1-Sep2018.zip",
    url: "https://s3-us-west-2.amazonaws.com/ai2-website/data/OpenBookQA-V1-Sep2018.zip",
    sha256: "82368cf05df2e3b309c17d162e10b888b4d768fad6e171e0a041954c8553be46",
    bytes: 1446098,
  }]),
  archive: "OpenBookQA-V1-Sep2018.zip",
  parquetConfig: "additional",
  reader: "jsonl",
  splits: {
    train: { file: { original: "Data/Additional/train_complete.jsonl", parquet: "train" } },
    validation: {
      file: { original: "Data/Additional/dev_complete.jsonl", parquet: "validation" },
    },
    test: { file: { original: "Data/Additional/test_complete.jsonl", parquet: "test" } },
  },
  describe: {
    train: "Data/Additional/train_complete.jsonl",
    validation: "Data/Additional/dev_complete.jsonl",
    test: "Data/Additional/test_complete.jsonl",
  },
  parse: checkOpenBookQaRecord,
  format: formatOpenBookQa,
};

/**
 * OpenBookQA as a {@linkcode Task}: the question, its lettered choices and the core fact
 * as context, the answer letter as target, 128 tokens; train/dev/test of the "additional"
 * configuration. Reads OpenBookQA-V1-Sep2018.zip (or its unzipped folder) or the Hub's
 * parquet export (`additional/*.parquet`).
 *
 * @example
 * ```ts
 * import { openBookQaTask } from "@lossforge/core";
 * const { examples } = await openBookQaTask.load({ path: "data/openbookqa", split: "test" });
 * console.log(examples.length, examples[0].target); // 500 "D"
 * ```
 */
export const openBookQaTask: Task<OpenBookQaRecord> = defineTask(OPENBOOKQA_SPEC);

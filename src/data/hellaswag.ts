/**
 * HellaSwag: the paper's prompt (the context and four lettered endings) with the letter of
 * the right ending as target, over hellaswag_{train,val}.jsonl or the Hub's parquet export.
 *
 * @module
 */

import { defineTask, type Task, type TaskFormatted, type TaskSpec } from "./task.ts";
import { show } from "../util/show.ts";

/**
 * One HellaSwag item (the fields the paper uses; the files have more).
 *
 * @example
 * ```ts
 * import { formatHellaSwag, type HellaSwagRecord } from "@lossforge/core";
 * const r: HellaSwagRecord = {
 *   ind: 24,
 *   ctx: "A man is sitting on a roof. he",
 *   endings: ["is using wrap.", "is ripping level tiles off.", "is holding a cube.", "starts."],
 *   label: 3,
 * };
 * console.log(formatHellaSwag(r).target); // "D"
 * ```
 */
export interface HellaSwagRecord {
  /** The item's index in its file, when given. */
  ind?: number;
  /** The context to continue. */
  ctx: string;
  /** The candidate endings (four). */
  endings: string[];
  /** The index of the right ending, 0-based. */
  label: number;
  /** The ActivityNet or WikiHow label, when given. */
  activity_label?: string;
}

const LETTERS = "ABCDEFGHIJ";

/**
 * Formats a HellaSwag item as the paper does: `Question: {ctx}\n`, lines `A. {ending}` to
 * `D. {ending}`, then `\nAnswer: `; the target is the letter of `label` (0 is `A`).
 *
 * @param record The item.
 * @returns Prompt, target and reference (both the letter).
 *
 * @example
 * ```ts
 * import { formatHellaSwag } from "@lossforge/core";
 * const f = formatHellaSwag({ ctx: "He picks up the", endings: ["ball.", "sky."], label: 0 });
 * console.log(f.prompt, f.target); // "Question: He picks up the\nA. ball.\nB. sky.\nAnswer: " "A"
 * ```
 */
export function formatHellaSwag(record: HellaSwagRecord): TaskFormatted {
  const lines = record.endings.map((e, i) => `${LETTERS[i]}. ${e}`);
  const letter = LETTERS[record.label];
  return {
    prompt: `Question: ${record.ctx}\n${lines.join("\n")}\nAnswer: `,
    target: letter,
    reference: letter,
  };
}

/**
 * Checks one HellaSwag item (the original's numeric `label` or the parquet export's
 * string one) and returns it, or what is wrong with it. An empty label (the official test
 * split, which has none) is refused.
 *
 * @example
 * ```ts
 * import { checkHellaSwagRecord } from "@lossforge/core";
 * console.log(checkHellaSwagRecord({ ctx: "c", endings: ["a", "b"], label: "" }));
 * // 'field "label" is empty (the official test split has no labels: use hellaswag_val.jsonl)'
 * ```
 */
export function checkHellaSwagRecord(value: unknown): HellaSwagRecord | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return `expected an object with "ctx", "endings" and "label", got ${show(value, 80)}`;
  }
  const obj = value as Record<string, unknown>;
  for (const field of ["ctx", "endings", "label"]) {
    if (obj[field] === undefined || obj[field] === null) {
      return `field "${field}" is missing in ${show(value, 80)}`;
    }
  }
  if (typeof obj.ctx !== "string") return `field "ctx" must be a string, got ${show(obj.ctx)}`;
  const endings = obj.endings;
  if (!Array.isArray(endings) || !endings.every((e) => typeof e === "string")) {
    return `field "endings" must be a list of strings, got ${show(endings, 60)}`;
  }
  if (endings.length < 2 || endings.length > LETTERS.length) {
    return `field "endings" must hold 2 to ${LETTERS.length} endings, got ${endings.length}`;
  }
  let label: number;
  const raw = obj.label;
  if (raw === "") {
    return `field "label" is empty (the official test split has no labels: use ` +
      `hellaswag_val.jsonl)`;
  }
  if (typeof raw === "number" || typeof raw === "bigint") label = Number(raw);
  else if (typeof raw === "string" && /^\s*\d+\s*$/.test(raw)) label = Number(raw);
  else return `field "label" must be an ending index, got ${show(raw)}`;
  if (!Number.isInteger(label) || label < 0 || label >= endings.length) {
    return `field "label" must be an index into the ${endings.length} endings, got ${show(raw)}`;
  }
  const record: HellaSwagRecord = { ctx: obj.ctx, endings: endings as string[], label };
  if (typeof obj.ind === "number" || typeof obj.ind === "bigint") record.ind = Number(obj.ind);
  if (typeof obj.activity_label === "string") record.activity_label = obj.activity_label;
  return record;
}

/**
 * The HellaSwag task description that {@linkcode hellaSwagTask} is built from.
 *
 * @example
 * ```ts
 * import { HELLASWAG_SPEC } from "./hellaswag.ts";
 * console.log(HELLASWAG_SPEC.splits.test.file.original); // "hellaswag_val.jsonl"
 * ```
 */
export const HELLASWAG_SPEC: TaskSpec<HellaSwagRecord> = {
  name: "hellaswag",
  title: "HellaSwag",
  maxLength: 256,
  answerKind: "letter",
  homepage: "https://rowanzellers.com/hellaswag/",
  files: Object.freeze([
    {
      name: "hellaswag_train.jsonl",
      url: "https://raw.githubusercontent.com/rowanz/hellaswag/master/data/hellaswag_train.jsonl",
      sha256: "dae5e69249868cb9fe4e23ff925c60b66169564cfb7072d793cd7356a2b69f8d",
      bytes: 47496131,
    },
    {
      name: "hellaswag_val.jsonl",
      url: "https://raw.githubusercontent.com/rowanz/hellaswag/master/data/hellaswag_val.jsonl",
      sha256: "0aa3b88843990f3f10a97b9575c94d7b71fb2205240ba04ae4884d9e9c992588",
      bytes: 12246618,
    },
  ]),
  reader: "jsonl",
  splits: {
    train: { file: { original: "hellaswag_train.jsonl", parquet: "train" }, part: "train" },
    validation: {
      file: { original: "hellaswag_train.jsonl", parquet: "train" },
      part: "validation",
    },
    test: { file: { original: "hellaswag_val.jsonl", parquet: "validation" } },
  },
  describe: {
    train: "90% of hellaswag_train.jsonl (seed 42)",
    validation: "10% of hellaswag_train.jsonl (seed 42)",
    test: "hellaswag_val.jsonl (the official test split has no labels)",
  },
  parse: checkHellaSwagRecord,
  format: formatHellaSwag,
};

/**
 * HellaSwag as a {@linkcode Task}: the context and the lettered endings, the right
 * ending's letter as target, 256 tokens. The labelled validation file is the test split;
 * validation is 10% of train (seed 42). Reads hellaswag_train.jsonl and
 * hellaswag_val.jsonl or the Hub's parquet export (`train`, `validation`).
 *
 * @example
 * ```ts
 * import { hellaSwagTask } from "@lossforge/core";
 * const { examples } = await hellaSwagTask.load({ path: "data/hellaswag", split: "test" });
 * console.log(examples.length); // 10042
 * ```
 */
export const hellaSwagTask: Task<HellaSwagRecord> = defineTask(HELLASWAG_SPEC);

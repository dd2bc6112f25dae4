/**
 * GSM8K: parsing, the paper's prompt/target format, JSONL reading, deterministic
 * train/validation/test splits, a checksummed downloader, and GSM8K as a `Task`
 * (original JSONL or the Hub's parquet export).
 *
 * @module
 */

import { DataError } from "./errors.ts";
import { validationIndices } from "./split.ts";
import { jsonlRecords, readBytes } from "./files.ts";
import { defineTask, type Task, type TaskFormatted, type TaskSpec } from "./task.ts";
import { type DownloadFile, downloadFiles, type DownloadOptions, joinPath } from "./download.ts";

export { sha256Hex, verifySha256Prefix } from "./download.ts";
export { validationIndices } from "./split.ts";
export type { DownloadOptions, DownloadProgress } from "./download.ts";

/**
 * One raw GSM8K record: a question and its worked answer, whose last line is `#### N`.
 *
 * @example
 * ```ts
 * import { formatGsm8k, type Gsm8kRecord } from "@lossforge/core";
 * const r: Gsm8kRecord = { question: "What is 2+3?", answer: "2+3 = <<2+3=5>>5\n#### 5" };
 * console.log(formatGsm8k(r).target); // "<<2+3=5>> #### 5"
 * ```
 */
export interface Gsm8kRecord {
  /** The word problem. */
  question: string;
  /** The worked solution with `<<a*b=c>>` calculator annotations and a final `#### N` line. */
  answer: string;
}

/**
 * Which training target to build: `"annotations"` (the paper's format: the calculator
 * annotations joined by spaces, then `#### N`) or `"solution"` (the whole worked answer).
 *
 * @example
 * ```ts
 * import { formatGsm8k, type Gsm8kTarget } from "@lossforge/core";
 * const r = { question: "What is 2+3?", answer: "2+3 = <<2+3=5>>5\n#### 5" };
 * const target: Gsm8kTarget = "solution";
 * console.log(formatGsm8k(r, { target }).target); // "2+3 = <<2+3=5>>5\n#### 5"
 * ```
 */
export type Gsm8kTarget = "annotations" | "solution";

/**
 * A GSM8K example ready for training or evaluation.
 *
 * @example
 * ```ts
 * import { type Gsm8kExample, gsm8kSynthetic } from "@lossforge/core";
 * const [ex]: Gsm8kExample[] = gsm8kSynthetic({ count: 1 });
 * console.log(ex.question); // "A jacket costs $15. It is 20% off. What is the sale price?"
 * console.log(ex.target, ex.final); // "<<15/5=3>> <<15-3=12>> #### 12" "12"
 * ```
 */
export interface Gsm8kExample extends Gsm8kRecord {
  /** `Question: {question}\nAnswer: ` */
  prompt: string;
  /** The text the model learns to produce after the prompt. */
  target: string;
  /** The final answer as written after `####` (e.g. `"18"` or `"1,200"`). */
  final: string;
}

/**
 * The parts of a GSM8K answer: its calculator annotations and its final answer.
 *
 * @example
 * ```ts
 * import { type Gsm8kAnswerParts, parseGsm8kAnswer } from "@lossforge/core";
 * const parts: Gsm8kAnswerParts = parseGsm8kAnswer("<<1+1=2>>2\n#### 2");
 * console.log(parts.formulas, parts.final); // ["<<1+1=2>>"] "2"
 * ```
 */
export interface Gsm8kAnswerParts {
  /** The `<<...>>` annotations in order of appearance, brackets included. */
  formulas: string[];
  /** The text after the last `####`, trimmed. */
  final: string;
}

const FORMULA_RE = /<<(.*?)>>/gs;

/**
 * Splits a GSM8K answer into its `<<...>>` calculator annotations and its final answer (the
 * text after the last `####`). Throws a {@linkcode DataError} when there is no `####` or
 * nothing follows it.
 *
 * @param answer A GSM8K worked answer.
 * @returns The annotations (with brackets, in order) and the final answer string.
 *
 * @example
 * ```ts
 * import { parseGsm8kAnswer } from "@lossforge/core";
 * const a = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n" +
 *   "Natalia sold 48+24 = <<48+24=72>>72 clips.\n#### 72";
 * console.log(parseGsm8kAnswer(a)); // { formulas: ["<<48/2=24>>", "<<48+24=72>>"], final: "72" }
 * ```
 */
export function parseGsm8kAnswer(answer: string): Gsm8kAnswerParts {
  if (typeof answer !== "string") {
    throw new DataError(`parseGsm8kAnswer: answer must be a string, got ${typeof answer}`);
  }
  const at = answer.lastIndexOf("####");
  if (at < 0) {
    throw new DataError(`answer has no "#### N" final line: ${preview(answer)}`);
  }
  const final = answer.slice(at + 4).trim();
  if (final === "") {
    throw new DataError(`answer has nothing after "####": ${preview(answer)}`);
  }
  const formulas = Array.from(answer.slice(0, at).matchAll(FORMULA_RE), (m) => m[0]);
  return { formulas, final };
}

/**
 * Formats a GSM8K record as the paper does. Prompt: `Question: {question}\nAnswer: `.
 * Target `"annotations"` (default): the annotations joined by single spaces, then
 * ` #### N` (just `#### N` when there are none); `"solution"`: the worked answer as is.
 *
 * @param example The question and answer.
 * @param options `target`: which target to build.
 * @returns The prompt and the target.
 *
 * @example
 * ```ts
 * import { formatGsm8k } from "@lossforge/core";
 * const { prompt, target } = formatGsm8k({
 *   question: "Janet has 16 eggs...",
 *   answer: "16 - 3 - 4 = <<16-3-4=9>>9\n9 * 2 = $<<9*2=18>>18\n#### 18",
 * });
 * console.log(prompt); // "Question: Janet has 16 eggs...\nAnswer: "
 * console.log(target); // "<<16-3-4=9>> <<9*2=18>> #### 18"
 * ```
 */
export function formatGsm8k(
  example: Gsm8kRecord,
  options: { target?: Gsm8kTarget } = {},
): { prompt: string; target: string } {
  const kind = options.target ?? "annotations";
  const prompt = `Question: ${example.question}\nAnswer: `;
  if (kind === "solution") return { prompt, target: example.answer };
  if (kind !== "annotations") {
    throw new RangeError(
      `formatGsm8k: target must be "annotations" or "solution", got ${JSON.stringify(kind)}`,
    );
  }
  const { formulas, final } = parseGsm8kAnswer(example.answer);
  const target = formulas.length > 0 ? `${formulas.join(" ")} #### ${final}` : `#### ${final}`;
  return { prompt, target };
}

/**
 * The result of reading a GSM8K JSONL file.
 *
 * @example
 * ```ts
 * import { type Gsm8kFile, readGsm8kJsonl } from "@lossforge/core";
 * const file: Gsm8kFile = await readGsm8kJsonl("data/gsm8k/train.jsonl", { skipBad: true });
 * console.log(file.records.length, file.skipped); // 7473 0
 * for (const problem of file.problems) console.warn(problem); // "path:line: what is wrong"
 * ```
 */
export interface Gsm8kFile {
  /** The well-formed records, in file order. */
  records: Gsm8kRecord[];
  /** How many malformed lines were skipped (always 0 without `skipBad`). */
  skipped: number;
  /** One `path:line: what is wrong` message per skipped line. */
  problems: string[];
}

/**
 * Reads a GSM8K JSONL file: one JSON object per line with string fields `question` and
 * `answer` (the answer must contain `#### N`). Blank lines are ignored. A malformed line
 * throws a {@linkcode DataError} whose message is `path:line: what is wrong`; with
 * `skipBad: true` such lines are skipped and counted instead.
 *
 * @param path The file.
 * @param options `skipBad`: skip and count malformed lines instead of throwing.
 * @returns The records, the number of skipped lines and the problems found.
 *
 * @example
 * ```ts
 * import { readGsm8kJsonl } from "@lossforge/core";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.jsonl`, '{"question":"1+1?","answer":"#### 2"}\nnot json\n');
 * const { records, skipped } = await readGsm8kJsonl(`${dir}/a.jsonl`, { skipBad: true });
 * console.log(records.length, skipped); // 1 1
 * ```
 */
export async function readGsm8kJsonl(
  path: string | URL,
  options: { skipBad?: boolean } = {},
): Promise<Gsm8kFile> {
  const name = path instanceof URL ? path.pathname : path;
  const bytes = await readBytes(
    path,
    "Download GSM8K with --download, or pass --data DIR (a folder holding train.jsonl and " +
      "test.jsonl)",
  );
  const records: Gsm8kRecord[] = [];
  const problems: string[] = [];
  for (const raw of jsonlRecords(bytes, name)) {
    const record = raw.problem ?? checkGsm8kRecord(raw.value);
    if (typeof record === "string") {
      const message = `${raw.where}: ${record}`;
      if (!options.skipBad) throw new DataError(message);
      problems.push(message);
    } else {
      records.push(record);
    }
  }
  return { records, skipped: problems.length, problems };
}

/**
 * Checks one GSM8K record (a JSONL line or a parquet row, which have the same fields) and
 * returns it, or what is wrong with it.
 *
 * @param value The parsed record.
 * @returns The record, or a description of the problem.
 *
 * @example
 * ```ts
 * import { checkGsm8kRecord } from "@lossforge/core";
 * console.log(checkGsm8kRecord({ question: "q", answer: "no final" }));
 * // 'field "answer" has no "#### N" final line: "no final"'
 * ```
 */
export function checkGsm8kRecord(value: unknown): Gsm8kRecord | string {
  const shown = () => preview(JSON.stringify(value) ?? String(value));
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return `expected a JSON object with "question" and "answer", got ${shown()}`;
  }
  const obj = value as Record<string, unknown>;
  for (const field of ["question", "answer"]) {
    if (!(field in obj)) return `field "${field}" is missing in ${shown()}`;
    if (typeof obj[field] !== "string") {
      return `field "${field}" must be a string, got ${
        preview(String(JSON.stringify(obj[field])))
      }`;
    }
  }
  const question = obj.question as string;
  const answer = obj.answer as string;
  if (question.trim() === "") return `field "question" is empty`;
  const at = answer.lastIndexOf("####");
  if (at < 0) return `field "answer" has no "#### N" final line: ${preview(answer)}`;
  if (answer.slice(at + 4).trim() === "") {
    return `field "answer" has nothing after "####": ${preview(answer)}`;
  }
  return { question, answer };
}

function preview(s: string, max = 80): string {
  const json = JSON.stringify(s.length > max ? s.slice(0, max) + "…" : s);
  return json;
}

/**
 * A GSM8K split: `"train"` (90% of train.jsonl), `"validation"` (the held-out 10%) or
 * `"test"` (test.jsonl).
 *
 * @example
 * ```ts
 * import { gsm8k, type Gsm8kSplit } from "@lossforge/core";
 * const splits: Gsm8kSplit[] = ["train", "validation", "test"];
 * for (const split of splits) {
 *   console.log(split, (await gsm8k({ path: "data/gsm8k", split })).length);
 * } // train 6726, validation 747, test 1319
 * ```
 */
export type Gsm8kSplit = "train" | "validation" | "test";

/**
 * Options of {@linkcode gsm8k}.
 *
 * @example
 * ```ts
 * import { gsm8k } from "@lossforge/core";
 * // Hold out 5% instead of 10%, with the whole worked solution as the target.
 * const train = await gsm8k({
 *   path: "data/gsm8k",
 *   split: "train",
 *   validationFraction: 0.05,
 *   target: "solution",
 * });
 * console.log(train.length); // 7099
 * ```
 */
export interface Gsm8kOptions {
  /** A folder holding train.jsonl and test.jsonl. */
  path: string;
  /** Which split to load. */
  split: Gsm8kSplit;
  /** Which target to build (default `"annotations"`). */
  target?: Gsm8kTarget;
  /** Skip malformed lines instead of throwing (default false). */
  skipBad?: boolean;
  /** Fraction of train.jsonl held out as validation (default 0.1). */
  validationFraction?: number;
  /** Seed of the shuffle that picks the validation examples (default 42). */
  seed?: number;
  /** Called once per skipped line with its `path:line: problem` message (with `skipBad`). */
  onSkip?: (problem: string) => void;
}

/**
 * Loads a GSM8K split from a folder holding train.jsonl and test.jsonl, formatted as the
 * paper does (see {@linkcode formatGsm8k}). The validation split is
 * `round(validationFraction * n)` train records picked by a seeded shuffle (seed 42 by
 * default); `"train"` is the rest. Both keep file order. A missing folder or file throws a
 * {@linkcode DataError} naming the path and suggesting `--download` or `--data DIR`.
 *
 * @param options See {@linkcode Gsm8kOptions}.
 * @returns The examples of the split.
 *
 * @example
 * ```ts
 * import { gsm8k } from "@lossforge/core";
 * const val = await gsm8k({ path: "data/gsm8k", split: "validation" });
 * console.log(val.length); // 747
 * console.log(val[0].prompt); // "Question: ...\nAnswer: "
 * ```
 */
export async function gsm8k(options: Gsm8kOptions): Promise<Gsm8kExample[]> {
  const { path, split, target = "annotations", skipBad = false } = options;
  const fraction = options.validationFraction ?? 0.1;
  const seed = options.seed ?? 42;
  if (split !== "train" && split !== "validation" && split !== "test") {
    throw new RangeError(
      `gsm8k: split must be "train", "validation" or "test", got ${JSON.stringify(split)}`,
    );
  }
  if (!(fraction >= 0 && fraction < 1)) {
    throw new RangeError(`gsm8k: validationFraction must be in [0, 1), got ${fraction}`);
  }
  try {
    const info = await Deno.stat(path);
    if (!info.isDirectory) {
      throw new DataError(
        `${path}: GSM8K path is not a folder. Pass --data DIR with a folder holding ` +
          `train.jsonl and test.jsonl, or fetch it with --download`,
      );
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new DataError(`${path}: cannot access GSM8K folder: ${(e as Error).message}`, {
        cause: e,
      });
    }
    throw new DataError(
      `${path}: GSM8K folder not found. Fetch it with --download, or pass --data DIR ` +
        `(a folder holding train.jsonl and test.jsonl)`,
      { cause: e },
    );
  }
  const file = joinPath(path, split === "test" ? "test.jsonl" : "train.jsonl");
  const { records, problems } = await readGsm8kJsonl(file, { skipBad });
  if (options.onSkip) { for (const p of problems) options.onSkip(p); }
  let chosen = records;
  if (split !== "test") {
    const held = new Set(validationIndices(records.length, fraction, seed));
    chosen = records.filter((_, i) => (split === "validation") === held.has(i));
  }
  return chosen.map((r) => {
    const f = formatGsm8k(r, { target });
    return { ...r, prompt: f.prompt, target: f.target, final: parseGsm8kAnswer(r.answer).final };
  });
}

/**
 * Public download locations of GSM8K (openai/grade-school-math on GitHub, MIT licence).
 *
 * @example
 * ```ts
 * import { GSM8K_URLS } from "@lossforge/core";
 * console.log(GSM8K_URLS.test); // "https://raw.githubusercontent.com/openai/.../test.jsonl"
 * ```
 */
export const GSM8K_URLS: Readonly<{ train: string; test: string }> = Object.freeze({
  train:
    "https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data/train.jsonl",
  test:
    "https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data/test.jsonl",
});

/**
 * Expected leading hex digits of the sha256 of each GSM8K file.
 *
 * @example
 * ```ts
 * import { GSM8K_SHA256_PREFIXES, verifySha256Prefix } from "@lossforge/core";
 * const bytes = await Deno.readFile("data/gsm8k/test.jsonl");
 * await verifySha256Prefix(bytes, GSM8K_SHA256_PREFIXES.test, "test.jsonl"); // throws if altered
 * ```
 */
export const GSM8K_SHA256_PREFIXES: Readonly<{ train: string; test: string }> = Object.freeze({
  train: "17f347dc",
  test: "3730d312",
});

/**
 * GSM8K's two files with their public URLs and full sha256 digests, as
 * {@linkcode downloadFiles} takes them.
 *
 * @example
 * ```ts
 * import { GSM8K_FILES } from "@lossforge/core";
 * console.log(GSM8K_FILES.map((f) => f.name)); // ["train.jsonl", "test.jsonl"]
 * ```
 */
export const GSM8K_FILES: readonly DownloadFile[] = Object.freeze([
  {
    name: "train.jsonl",
    url: GSM8K_URLS.train,
    sha256: "17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465",
  },
  {
    name: "test.jsonl",
    url: GSM8K_URLS.test,
    sha256: "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14",
  },
]);

/**
 * Downloads GSM8K's train.jsonl and test.jsonl from {@linkcode GSM8K_URLS} into `dir`
 * (created if needed), checking each file's sha256 ({@linkcode GSM8K_FILES}). Each file is
 * written to a temporary file in `dir` and renamed into place only once verified, so a failed or
 * interrupted download never leaves a partial file. Files already present and verified are
 * kept unless `force` is set.
 *
 * @param dir The destination folder.
 * @param options Progress callback, fetch override, `force`.
 * @returns The paths of the two files.
 *
 * @example
 * ```ts
 * import { downloadGsm8k } from "@lossforge/core";
 * const paths = await downloadGsm8k("data/gsm8k", {
 *   onProgress: (p) => p.done && console.log(`${p.file}: ${p.bytes} bytes`),
 * });
 * console.log(paths.train, paths.test);
 * ```
 */
export async function downloadGsm8k(
  dir: string,
  options: DownloadOptions = {},
): Promise<{ train: string; test: string }> {
  const paths = await downloadFiles(GSM8K_FILES, dir, {
    ...options,
    offlineHint: "If offline, copy train.jsonl and test.jsonl into a folder and pass --data DIR",
  });
  return { train: paths["train.jsonl"], test: paths["test.jsonl"] };
}

/**
 * The GSM8K task description that {@linkcode gsm8kTask} is built from.
 *
 * @example
 * ```ts
 * import { GSM8K_SPEC } from "./gsm8k.ts";
 * console.log(GSM8K_SPEC.splits.test.file.original); // "test.jsonl"
 * ```
 */
export const GSM8K_SPEC: TaskSpec<Gsm8kRecord> = {
  name: "gsm8k",
  title: "GSM8K",
  maxLength: 128,
  answerKind: "number",
  homepage: "https://github.com/openai/grade-school-math",
  files: GSM8K_FILES,
  parquetConfig: "main",
  reader: "jsonl",
  splits: {
    train: { file: { original: "train.jsonl", parquet: "train" }, part: "train" },
    validation: { file: { original: "train.jsonl", parquet: "train" }, part: "validation" },
    test: { file: { original: "test.jsonl", parquet: "test" } },
  },
  describe: {
    train: "90% of train.jsonl (seed 42)",
    validation: "10% of train.jsonl (seed 42)",
    test: "test.jsonl",
  },
  parse: (value) => checkGsm8kRecord(value),
  format: (record): TaskFormatted => ({
    ...formatGsm8k(record),
    reference: parseGsm8kAnswer(record.answer).final,
  }),
};

/**
 * GSM8K as a {@linkcode Task}: prompt `Question: {question}\nAnswer: `, target the
 * `<<...>>` annotations joined by spaces then `#### N`, 128 tokens; validation is 10% of
 * train.jsonl (seed 42). Reads train.jsonl/test.jsonl or the Hub's parquet export
 * (`main/train-*.parquet`, `main/test-*.parquet`).
 *
 * @example
 * ```ts
 * import { gsm8kTask } from "@lossforge/core";
 * const { examples } = await gsm8kTask.load({ path: "data/gsm8k", split: "test" });
 * console.log(examples.length, examples[0].reference); // 1319 "18"
 * ```
 */
export const gsm8kTask: Task<Gsm8kRecord> = defineTask(GSM8K_SPEC);

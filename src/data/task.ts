/**
 * The `Task` interface every fine-tuning task implements (GSM8K, MathQA, OpenBookQA,
 * HellaSwag), the loader they share (finding original or parquet files, held-out
 * validation splits, malformed-record reporting) and the paper's left truncation.
 *
 * @module
 */

import { DataError } from "./errors.ts";
import { type DownloadFile, downloadFiles, type DownloadOptions } from "./download.ts";
import {
  jsonArrayRecords,
  jsonlRecords,
  listFiles,
  parquetRecords,
  pathEndsWith,
  pathWords,
  type RawRecord,
  readBytes,
  unzipMembers,
} from "./files.ts";
import { joinPath } from "./download.ts";
import { validationIndices } from "./split.ts";
import type { Tokenizer } from "../tokenizers/mod.ts";

/**
 * The tasks of the paper.
 *
 * @example
 * ```ts
 * import { TASK_NAMES, type TaskName } from "@lossforge/core";
 * const names: readonly TaskName[] = TASK_NAMES;
 * console.log(names); // ["gsm8k", "mathqa", "openbookqa", "hellaswag"]
 * ```
 */
export type TaskName = "gsm8k" | "mathqa" | "openbookqa" | "hellaswag";

/**
 * A split of a task: `"train"`, `"validation"` (for model selection during training) or
 * `"test"` (for the reported numbers).
 *
 * @example
 * ```ts
 * import { loadTask, type TaskSplit } from "@lossforge/core";
 * const split: TaskSplit = "validation";
 * const data = await loadTask("hellaswag", { path: "data/hellaswag", split });
 * console.log(data.examples.length); // 3990: 10% of hellaswag_train.jsonl
 * ```
 */
export type TaskSplit = "train" | "validation" | "test";

/**
 * What a task's answer is: `"number"` (after `#### `, scored by exact match and the
 * `<<...>>` step metrics) or `"letter"` (a choice, scored by letter accuracy and ROUGE-1).
 *
 * @example
 * ```ts
 * import { type AnswerKind, TASKS } from "@lossforge/core";
 * const kind: AnswerKind = TASKS.openbookqa.answerKind;
 * console.log(kind, TASKS.mathqa.answerKind); // "letter" "number"
 * ```
 */
export type AnswerKind = "number" | "letter";

/**
 * Which files a task reads: `"original"` (the dataset's own release files), `"parquet"`
 * (the Hugging Face Hub's parquet export) or `"auto"` (original when found, else parquet).
 *
 * @example
 * ```ts
 * import { loadTask, type TaskFormat } from "@lossforge/core";
 * const format: TaskFormat = "parquet";
 * await loadTask("gsm8k", { path: "hub/openai/gsm8k", split: "test", format });
 * ```
 */
export type TaskFormat = "auto" | "original" | "parquet";

/**
 * A prompt and the text the model learns to produce after it, with the reference answer
 * the metrics compare against.
 *
 * @example
 * ```ts
 * import { formatOpenBookQa, type TaskFormatted } from "@lossforge/core";
 * const f: TaskFormatted = formatOpenBookQa({
 *   id: "1", stem: "The sun is", fact1: "the sun is a star", answerKey: "B",
 *   choices: [{ label: "A", text: "cold" }, { label: "B", text: "a star" }],
 * });
 * console.log(f.target, f.reference); // "B" "B"
 * ```
 */
export interface TaskFormatted {
  /** The prompt, ending with `Answer: `. */
  prompt: string;
  /** The training target (the model sees prompt + target + EOS). */
  target: string;
  /** The reference answer: the number after `#### ` as written, or the letter. */
  reference: string;
}

/**
 * One example of a task: its formatted text, where it came from, and the record it was
 * made from.
 *
 * @example
 * ```ts
 * import { loadTask, type TaskExample } from "@lossforge/core";
 * const { examples } = await loadTask("mathqa", { path: "data/mathqa", split: "test" });
 * const ex: TaskExample = examples[0];
 * console.log(ex.source); // "data/mathqa/MathQA.zip!test.json row 0"
 * ```
 */
export interface TaskExample<R = unknown> extends TaskFormatted {
  /** `file:LINE` or `file row I` of the record. */
  source: string;
  /** The record, in the task's own shape (the same for original and parquet files). */
  record: R;
}

/**
 * Options of a task's `load` (and {@linkcode loadTask}).
 *
 * @example
 * ```ts
 * import { loadTask, type TaskLoadOptions } from "@lossforge/core";
 * const options: TaskLoadOptions = { path: "data/gsm8k", split: "train", skipBad: true };
 * const data = await loadTask("gsm8k", options);
 * for (const p of data.problems) console.warn(p); // "data/gsm8k/train.jsonl:12: ..."
 * ```
 */
export interface TaskLoadOptions {
  /** A folder holding the task's files (original, an archive, or parquet), or the archive. */
  path: string;
  /** Which split. */
  split: TaskSplit;
  /** Which files to read (default `"auto"`). */
  format?: TaskFormat;
  /** Skip malformed records (listed in `problems`) instead of throwing (default false). */
  skipBad?: boolean;
  /** Fraction of train held out as validation where the dataset has none (default 0.1). */
  validationFraction?: number;
  /** Seed of the shuffle that picks held-out examples (default 42). */
  seed?: number;
}

/**
 * What a task's `load` returns.
 *
 * @example
 * ```ts
 * import { loadTask, type TaskData } from "@lossforge/core";
 * const data: TaskData = await loadTask("mathqa", { path: "data/mathqa", split: "train" });
 * console.log(data.examples.length, data.dropped); // kept records, non-numeric answers
 * ```
 */
export interface TaskData<R = unknown> {
  /** The task. */
  task: TaskName;
  /** The split. */
  split: TaskSplit;
  /** Which kind of files were read. */
  format: "original" | "parquet";
  /** The files read (an archive member as `archive!member`). */
  files: string[];
  /** The examples, in file order. */
  examples: TaskExample<R>[];
  /** Malformed records skipped (always 0 without `skipBad`). */
  skipped: number;
  /** One `location: what is wrong` message per skipped record. */
  problems: string[];
  /** Well-formed records the task's own rule leaves out (MathQA: non-numeric answers). */
  dropped: number;
  /** One `location: why` message per dropped record. */
  drops: string[];
}

/**
 * A fine-tuning task of the paper: how to find, read, format, split and fetch it.
 *
 * @example
 * ```ts
 * import { byteTokenizer, makeBatch, type Task, TASKS } from "@lossforge/core";
 * const task: Task = TASKS.hellaswag;
 * const dir = await task.download("data/hellaswag");
 * const { examples } = await task.load({ path: dir, split: "train" });
 * const batch = makeBatch(byteTokenizer(), examples.slice(0, 2), { maxLength: task.maxLength });
 * console.log(task.maxLength, batch.length); // 256 256
 * ```
 */
export interface Task<R = unknown> {
  /** Short name. */
  readonly name: TaskName;
  /** Display name. */
  readonly title: string;
  /** The paper's maximum sequence length in tokens (left truncation). */
  readonly maxLength: number;
  /** What the answer is, and so which metrics apply. */
  readonly answerKind: AnswerKind;
  /** The dataset's public home page. */
  readonly homepage: string;
  /** The original files with their public URLs and sha256 digests. */
  readonly files: readonly DownloadFile[];
  /** Where each split comes from, in words. */
  readonly splits: Readonly<Record<TaskSplit, string>>;
  /** Checks one record (either shape) and returns it in the task's shape, or what is wrong. */
  parse(value: unknown): R | string;
  /** Formats a record as the paper does; throws a {@linkcode DataError} for one it drops. */
  format(record: R): TaskFormatted;
  /** Reads a split. */
  load(options: TaskLoadOptions): Promise<TaskData<R>>;
  /** Fetches the original files into `dir` (checksummed) and returns `dir`. */
  download(dir: string, options?: DownloadTaskOptions): Promise<string>;
}

/**
 * Options of a task's `download` (and `downloadTask`).
 *
 * @example
 * ```ts
 * import { downloadTask, type DownloadTaskOptions } from "@lossforge/core";
 * // A local mirror holding the same files under the same names.
 * const options: DownloadTaskOptions = { mirror: "http://127.0.0.1:8000/datasets" };
 * await downloadTask("mathqa", "data/mathqa", options);
 * ```
 */
export interface DownloadTaskOptions extends DownloadOptions {
  /** A base URL to fetch the files from instead of their public homes (`mirror/name`). */
  mirror?: string;
}

/** One file of a task: its original name (a path suffix) and the hub's split name. */
export interface TaskFileKey {
  /** The original file, as a path suffix (e.g. `Data/Additional/dev_complete.jsonl`). */
  original: string;
  /** The split name in the parquet export (e.g. `validation`). */
  parquet: string;
}

/**
 * What {@linkcode defineTask} needs to build a {@linkcode Task}.
 *
 * @example
 * ```ts
 * import { defineTask, type TaskSpec } from "./task.ts";
 * const spec: TaskSpec<{ q: string }> = {
 *   name: "gsm8k", title: "Toy", maxLength: 16, answerKind: "number",
 *   homepage: "https://example.org", files: [], reader: "jsonl",
 *   splits: {
 *     train: { file: { original: "t.jsonl", parquet: "train" }, part: "train" },
 *     validation: { file: { original: "t.jsonl", parquet: "train" }, part: "validation" },
 *     test: { file: { original: "t.jsonl", parquet: "train" } },
 *   },
 *   describe: { train: "90%", validation: "10%", test: "all" },
 *   parse: (v) => (typeof v === "string" ? { q: v } : "expected a string"),
 *   format: (r) => ({ prompt: r.q, target: "#### 1", reference: "1" }),
 * };
 * console.log(defineTask(spec).maxLength); // 16
 * ```
 */
export interface TaskSpec<R> {
  /** See {@linkcode Task}. */
  name: TaskName;
  /** See {@linkcode Task}. */
  title: string;
  /** See {@linkcode Task}. */
  maxLength: number;
  /** See {@linkcode Task}. */
  answerKind: AnswerKind;
  /** See {@linkcode Task}. */
  homepage: string;
  /** See {@linkcode Task}. */
  files: readonly DownloadFile[];
  /** The zip archive holding the original files, when they come in one. */
  archive?: string;
  /** The parquet export's configuration folder to prefer (`main`, `additional`). */
  parquetConfig?: string;
  /** How original files are laid out: one JSON object per line, or one JSON array. */
  reader: "jsonl" | "json";
  /** Which file each split reads, and which part of it when validation is held out. */
  splits: Record<TaskSplit, { file: TaskFileKey; part?: "train" | "validation" }>;
  /** See {@linkcode Task}. */
  describe: Record<TaskSplit, string>;
  /** See {@linkcode Task}. */
  parse(value: unknown): R | string;
  /** See {@linkcode Task}. */
  format(record: R): TaskFormatted;
}

interface Located {
  format: "original" | "parquet";
  /** name and bytes of each file (parquet exports may be sharded) */
  parts: { name: string; bytes: Uint8Array }[];
}

/**
 * Builds a {@linkcode Task} from its spec: the shared loader finds the split's file under
 * `path` (the original file, anywhere below; or inside the task's zip archive; or the
 * parquet files whose path has the split's word, preferring the `parquetConfig` folder),
 * reads its records, checks each with `parse` (a malformed record throws
 * `location: problem`, or is skipped with `skipBad`), formats it (a record `format`
 * rejects is dropped and counted), and keeps the held-out part when the split asks for one.
 *
 * @param spec The task's description.
 * @returns The task.
 *
 * @example
 * ```ts
 * import { defineTask } from "./task.ts";
 * import { MATHQA_SPEC } from "./mathqa.ts";
 * const task = defineTask(MATHQA_SPEC);
 * console.log(task.splits.validation); // "dev.json"
 * ```
 */
export function defineTask<R>(spec: TaskSpec<R>): Task<R> {
  const howToGet = `Fetch it with downloadTask("${spec.name}", DIR) (--download), or get ` +
    `${spec.files.map((f) => f.name).join(" and ")} from ${spec.homepage} and pass their ` +
    `folder with --data DIR`;
  const task: Task<R> = {
    name: spec.name,
    title: spec.title,
    maxLength: spec.maxLength,
    answerKind: spec.answerKind,
    homepage: spec.homepage,
    files: spec.files,
    splits: Object.freeze({ ...spec.describe }),
    parse: spec.parse,
    format: spec.format,
    async load(options: TaskLoadOptions): Promise<TaskData<R>> {
      const { split, skipBad = false } = options;
      const format = options.format ?? "auto";
      if (!(split in spec.splits)) {
        throw new RangeError(
          `${spec.name}: split must be "train", "validation" or "test", got ${
            JSON.stringify(split)
          }`,
        );
      }
      if (format !== "auto" && format !== "original" && format !== "parquet") {
        throw new RangeError(
          `${spec.name}: format must be "auto", "original" or "parquet", got ${
            JSON.stringify(format)
          }`,
        );
      }
      const fraction = options.validationFraction ?? 0.1;
      const seed = options.seed ?? 42;
      const { file, part } = spec.splits[split];
      const located = await locate(spec, options.path, file, format, howToGet);
      const raw: RawRecord[] = [];
      for (const p of located.parts) {
        raw.push(
          ...(located.format === "parquet"
            ? await parquetRecords(p.bytes, p.name)
            : spec.reader === "json"
            ? jsonArrayRecords(p.bytes, p.name)
            : jsonlRecords(p.bytes, p.name)),
        );
      }
      const problems: string[] = [];
      const drops: string[] = [];
      let examples: TaskExample<R>[] = [];
      for (const { value, where, problem } of raw) {
        const record = problem ?? spec.parse(value);
        if (typeof record === "string") {
          const message = `${where}: ${record}`;
          if (!skipBad) throw new DataError(message);
          problems.push(message);
          continue;
        }
        let formatted: TaskFormatted;
        try {
          formatted = spec.format(record);
        } catch (e) {
          if (!(e instanceof DataError)) throw e;
          drops.push(`${where}: ${e.message}`);
          continue;
        }
        examples.push({ ...formatted, source: where, record });
      }
      if (part !== undefined) {
        const held = new Set(validationIndices(examples.length, fraction, seed));
        examples = examples.filter((_, i) => (part === "validation") === held.has(i));
      }
      return {
        task: spec.name,
        split,
        format: located.format,
        files: located.parts.map((p) => p.name),
        examples,
        skipped: problems.length,
        problems,
        dropped: drops.length,
        drops,
      };
    },
    async download(dir: string, options: DownloadTaskOptions = {}): Promise<string> {
      const base = options.mirror?.replace(/\/+$/, "");
      const files = base === undefined
        ? spec.files
        : spec.files.map((f) => ({ ...f, url: `${base}/${f.name}` }));
      await downloadFiles(files, dir, {
        ...options,
        offlineHint: `If offline, get ${spec.files.map((f) => f.name).join(" and ")} from ` +
          `${spec.homepage} and pass their folder with --data DIR`,
      });
      return dir;
    },
  };
  return Object.freeze(task);
}

async function locate(
  spec: TaskSpec<unknown>,
  path: string,
  file: TaskFileKey,
  format: TaskFormat,
  howToGet: string,
): Promise<Located> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw new DataError(`${path}: ${spec.title} data not found. ${howToGet}`, { cause: e });
  }
  if (info.isFile) {
    if (format !== "parquet" && spec.archive && path.toLowerCase().endsWith(".zip")) {
      return await fromArchive(path, file, howToGet);
    }
    throw new DataError(
      `${path}: expected a folder holding the ${spec.title} files` +
        (spec.archive ? ` or ${spec.archive}` : "") + `. ${howToGet}`,
    );
  }
  const tree = await listFiles(path);
  if (format !== "parquet") {
    const original = tree.find((rel) => pathEndsWith(rel, file.original));
    if (original !== undefined) {
      const name = joinPath(path, original);
      return { format: "original", parts: [{ name, bytes: await readBytes(name, howToGet) }] };
    }
    const archive = spec.archive;
    const zip = archive === undefined ? undefined : tree.find((rel) => pathEndsWith(rel, archive));
    if (zip !== undefined) return await fromArchive(joinPath(path, zip), file, howToGet);
  }
  if (format !== "original") {
    let shards = tree.filter((rel) =>
      rel.toLowerCase().endsWith(".parquet") && pathWords(rel).includes(file.parquet)
    );
    const config = spec.parquetConfig;
    if (config !== undefined && shards.some((rel) => pathWords(rel).includes(config))) {
      shards = shards.filter((rel) => pathWords(rel).includes(config));
    }
    if (shards.length > 0) {
      const parts = [];
      for (const rel of shards) {
        const name = joinPath(path, rel);
        parts.push({ name, bytes: await readBytes(name, howToGet) });
      }
      return { format: "parquet", parts };
    }
  }
  const looked = [
    ...(format !== "parquet" ? [file.original, ...(spec.archive ? [spec.archive] : [])] : []),
    ...(format !== "original" ? [`*${file.parquet}*.parquet`] : []),
  ];
  throw new DataError(
    `${path}: no ${spec.title} file for this split (looked for ${looked.join(", ")}). ` +
      howToGet,
  );
}

async function fromArchive(zipPath: string, file: TaskFileKey, howToGet: string) {
  const members = unzipMembers(
    await readBytes(zipPath, howToGet),
    zipPath,
    (m) => pathEndsWith(m, file.original),
  );
  const names = Object.keys(members).sort();
  if (names.length === 0) {
    throw new DataError(`${zipPath}: the archive has no ${file.original}. ${howToGet}`);
  }
  return {
    format: "original" as const,
    parts: [{ name: `${zipPath}!${names[0]}`, bytes: members[names[0]] }],
  };
}

/**
 * The token ids of an example as the paper trains on it: `[bos] + prompt + target + eos`,
 * truncated on the left to `maxLength` tokens (bos, when the tokenizer has one and
 * `addBos` is on, is kept in front, as a Hugging Face tokenizer adds it after truncating).
 * `answerStart` is the index of the first target token (0 past bos when the prompt was cut
 * away entirely).
 *
 * @param tokenizer The tokenizer.
 * @param example The prompt and target.
 * @param maxLength The task's maximum length (e.g. `TASKS.mathqa.maxLength`).
 * @param options `addBos` (default true).
 * @returns The ids, where the answer starts and how many tokens were cut.
 *
 * @example
 * ```ts
 * import { byteTokenizer, tokenizeTaskExample } from "@lossforge/core";
 * const tok = byteTokenizer();
 * const t = tokenizeTaskExample(tok, { prompt: "Question: 1+1?\nAnswer: ", target: "B" }, 6);
 * console.log(tok.decode(t.ids), t.answerStart, t.truncated); // "r: B" 4 20
 * ```
 */
export function tokenizeTaskExample(
  tokenizer: Tokenizer,
  example: { prompt: string; target: string },
  maxLength: number,
  options: { addBos?: boolean } = {},
): { ids: number[]; answerStart: number; truncated: number } {
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    throw new RangeError(
      `tokenizeTaskExample: maxLength must be an integer >= 1, got ${maxLength}`,
    );
  }
  const head = (options.addBos ?? true) && tokenizer.bos !== undefined ? [tokenizer.bos] : [];
  const prompt = tokenizer.encode(example.prompt);
  const body = [...prompt, ...tokenizer.encode(example.target), tokenizer.eos];
  const room = Math.max(0, maxLength - head.length);
  const cut = Math.max(0, body.length - room);
  const kept = body.slice(cut);
  return {
    ids: [...head, ...kept].slice(0, maxLength),
    answerStart: head.length + Math.max(0, prompt.length - cut),
    truncated: cut,
  };
}

/**
 * GSM8K: parsing, the paper's prompt/target format, JSONL reading, deterministic
 * train/validation/test splits, and a checksummed downloader.
 *
 * @module
 */

import { DataError } from "./errors.ts";
import { seededRandom, shuffleInPlace } from "./random.ts";

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
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new DataError(
        `${name}: file not found. Download GSM8K with --download, or pass --data DIR ` +
          `(a folder holding train.jsonl and test.jsonl)`,
        { cause: e },
      );
    }
    throw new DataError(`${name}: cannot read file: ${(e as Error).message}`, { cause: e });
  }
  const records: Gsm8kRecord[] = [];
  const problems: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].endsWith("\r") ? lines[i].slice(0, -1) : lines[i];
    if (line.trim() === "") continue;
    const problem = checkLine(line);
    if (typeof problem === "string") {
      const message = `${name}:${i + 1}: ${problem}`;
      if (!options.skipBad) throw new DataError(message);
      problems.push(message);
    } else {
      records.push(problem);
    }
  }
  return { records, skipped: problems.length, problems };
}

/** Returns the record, or a description of what is wrong with the line. */
function checkLine(line: string): Gsm8kRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    return `invalid JSON (${(e as Error).message}): ${preview(line)}`;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return `expected a JSON object with "question" and "answer", got ${preview(line)}`;
  }
  const obj = value as Record<string, unknown>;
  for (const field of ["question", "answer"]) {
    if (!(field in obj)) return `field "${field}" is missing in ${preview(line)}`;
    if (typeof obj[field] !== "string") {
      return `field "${field}" must be a string, got ${preview(JSON.stringify(obj[field]))}`;
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
 * Indices of train.jsonl records that form the validation split: `round(n * fraction)`
 * indices chosen by a seeded Fisher-Yates shuffle, returned in ascending order.
 *
 * @param n Number of train records.
 * @param fraction Fraction to hold out, in `[0, 1)`.
 * @param seed Shuffle seed.
 * @returns A sorted array of distinct indices in `[0, n)`.
 *
 * @example
 * ```ts
 * import { validationIndices } from "@lossforge/core";
 * console.log(validationIndices(20, 0.1, 42)); // [0, 13]
 * ```
 */
export function validationIndices(n: number, fraction: number, seed: number): number[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`validationIndices: bad n = ${n}`);
  if (!(fraction >= 0 && fraction < 1)) {
    throw new RangeError(`validationFraction must be in [0, 1), got ${fraction}`);
  }
  const order = shuffleInPlace(Array.from({ length: n }, (_, i) => i), seededRandom(seed));
  return order.slice(0, Math.round(n * fraction)).sort((a, b) => a - b);
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

function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") || dir.endsWith("\\") ? dir + name : `${dir}/${name}`;
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
 * The sha256 of some bytes as lowercase hex (via `crypto.subtle`).
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./gsm8k.ts";
 * console.log(await sha256Hex(new TextEncoder().encode("abc")));
 * // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
 * ```
 */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Checks that the sha256 of `data` starts with `expectedPrefix` (case-insensitive); throws
 * a {@linkcode DataError} naming `label`, the expected prefix and the actual digest if not.
 *
 * @param data The bytes to check.
 * @param expectedPrefix Leading hex digits of the expected sha256.
 * @param label What the bytes are (a file name or URL), for the error message.
 * @returns The full hex digest.
 *
 * @example
 * ```ts
 * import { verifySha256Prefix } from "@lossforge/core";
 * const digest = await verifySha256Prefix(new TextEncoder().encode("abc"), "ba7816bf", "abc");
 * console.log(digest); // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
 * // A prefix that does not match throws a DataError naming "abc" and both digests.
 * ```
 */
export async function verifySha256Prefix(
  data: Uint8Array,
  expectedPrefix: string,
  label: string,
): Promise<string> {
  if (!/^[0-9a-f]*$/i.test(expectedPrefix) || expectedPrefix === "") {
    throw new RangeError(
      `verifySha256Prefix: bad expected prefix ${JSON.stringify(expectedPrefix)}`,
    );
  }
  const hex = await sha256Hex(data);
  if (!hex.startsWith(expectedPrefix.toLowerCase())) {
    throw new DataError(
      `${label}: sha256 mismatch: expected a digest starting ${expectedPrefix}, got ${hex}`,
    );
  }
  return hex;
}

/**
 * Progress of {@linkcode downloadGsm8k}.
 *
 * @example
 * ```ts
 * import { type DownloadProgress, downloadGsm8k } from "@lossforge/core";
 * const show = (p: DownloadProgress) => {
 *   if (p.total) console.log(`${p.file}: ${Math.round((100 * p.bytes) / p.total)}%`);
 * };
 * await downloadGsm8k("data/gsm8k", { onProgress: show });
 * ```
 */
export interface DownloadProgress {
  /** `"train.jsonl"` or `"test.jsonl"`. */
  file: string;
  /** Bytes received so far. */
  bytes: number;
  /** Content length if the server sent one. */
  total?: number;
  /** True once the file is verified and in place (or was already there). */
  done: boolean;
}

/**
 * Options of {@linkcode downloadGsm8k}.
 *
 * @example
 * ```ts
 * import { downloadGsm8k } from "@lossforge/core";
 * // Fetch again even when verified files are already there.
 * await downloadGsm8k("data/gsm8k", { force: true });
 * ```
 */
export interface DownloadOptions {
  /** Called as bytes arrive and when each file is done. */
  onProgress?: (progress: DownloadProgress) => void;
  /** The fetch to use (default: the global `fetch`); tests inject a fake. */
  fetch?: (url: string) => Promise<Response>;
  /** Re-download even if a verified file is already there (default false). */
  force?: boolean;
}

/**
 * Downloads GSM8K's train.jsonl and test.jsonl from {@linkcode GSM8K_URLS} into `dir`
 * (created if needed), checking each file's sha256 prefix. Each file is written to a
 * temporary file in `dir` and renamed into place only once verified, so a failed or
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
  const doFetch = options.fetch ?? ((url: string) => fetch(url));
  await Deno.mkdir(dir, { recursive: true });
  const out = { train: joinPath(dir, "train.jsonl"), test: joinPath(dir, "test.jsonl") };
  for (const split of ["train", "test"] as const) {
    const dest = out[split];
    const file = `${split}.jsonl`;
    const prefix = GSM8K_SHA256_PREFIXES[split];
    if (!options.force) {
      const existing = await Deno.readFile(dest).catch(() => null);
      if (existing && (await sha256Hex(existing)).startsWith(prefix)) {
        options.onProgress?.({ file, bytes: existing.length, total: existing.length, done: true });
        continue;
      }
    }
    const url = GSM8K_URLS[split];
    let response: Response;
    try {
      response = await doFetch(url);
    } catch (e) {
      throw new DataError(
        `${url}: download failed (${(e as Error).message}). If offline, copy train.jsonl and ` +
          `test.jsonl into a folder and pass --data DIR`,
        { cause: e },
      );
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new DataError(`${url}: download failed with HTTP ${response.status}`);
    }
    const lengthHeader = response.headers.get("content-length");
    const total = lengthHeader !== null ? Number(lengthHeader) : undefined;
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    if (response.body) {
      for await (const chunk of response.body) {
        chunks.push(chunk);
        bytes += chunk.length;
        options.onProgress?.({ file, bytes, total, done: false });
      }
    }
    const data = new Uint8Array(bytes);
    let offset = 0;
    for (const c of chunks) {
      data.set(c, offset);
      offset += c.length;
    }
    await verifySha256Prefix(data, prefix, url);
    const tmp = `${dest}.tmp-${crypto.randomUUID()}`;
    try {
      await Deno.writeFile(tmp, data);
      await Deno.rename(tmp, dest);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      throw new DataError(`${dest}: cannot write file: ${(e as Error).message}`, { cause: e });
    }
    options.onProgress?.({ file, bytes, total, done: true });
  }
  return out;
}

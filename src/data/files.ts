/**
 * Reading task files as records that remember where they came from: JSONL (one object a
 * line), a JSON array, parquet (via `hyparquet`) and members of zip archives (via
 * `fflate`), plus the folder walk that finds them.
 *
 * @module
 */

import { parquetReadObjects } from "hyparquet";
import { unzipSync } from "fflate";
import { DataError } from "./errors.ts";
import { joinPath } from "./download.ts";
import { show } from "../util/show.ts";

/**
 * One record read from a file, with its location: `path:LINE` (1-based) for JSONL,
 * `path row I` (0-based) for a JSON array or a parquet file. A JSONL line that is not JSON
 * is a record with a `problem` instead of a value.
 *
 * @example
 * ```ts
 * import { jsonlRecords, type RawRecord } from "./files.ts";
 * const bytes = new TextEncoder().encode('{"a":1}\n');
 * const [r]: RawRecord[] = jsonlRecords(bytes, "x.jsonl");
 * console.log(r.where, r.value); // "x.jsonl:1" { a: 1 }
 * ```
 */
export interface RawRecord {
  /** The parsed record. */
  value: unknown;
  /** Where it is, for messages. */
  where: string;
  /** What is wrong with it, when it could not be read. */
  problem?: string;
}

/**
 * Reads a file's bytes; a missing file is a {@linkcode DataError} naming it, followed by
 * `hint` (how to get the file).
 *
 * @example
 * ```ts
 * import { readBytes } from "./files.ts";
 * await readBytes("nowhere.jsonl", "pass --data DIR").catch((e) => console.log(e.message));
 * // "nowhere.jsonl: file not found. pass --data DIR"
 * ```
 */
export async function readBytes(path: string | URL, hint: string): Promise<Uint8Array> {
  const name = path instanceof URL ? path.pathname : path;
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new DataError(`${name}: file not found. ${hint}`, { cause: e });
    }
    throw new DataError(`${name}: cannot read file: ${(e as Error).message}`, { cause: e });
  }
}

function decodeUtf8(bytes: Uint8Array, name: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (e) {
    throw new DataError(`${name}: not UTF-8 text`, { cause: e });
  }
}

/**
 * The records of a JSONL file: one JSON value per line; blank lines and a `\r` before
 * each newline are ignored. A line that is not JSON is a record with a `problem`.
 *
 * @example
 * ```ts
 * import { jsonlRecords } from "./files.ts";
 * const records = jsonlRecords(new TextEncoder().encode('{"a":1}\n\nnot json\n'), "f.jsonl");
 * console.log(records.length, records[1].where, records[1].problem?.slice(0, 12));
 * // 2 "f.jsonl:3" "invalid JSON"
 * ```
 */
export function jsonlRecords(bytes: Uint8Array, name: string): RawRecord[] {
  const lines = decodeUtf8(bytes, name).split("\n");
  const records: RawRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].endsWith("\r") ? lines[i].slice(0, -1) : lines[i];
    if (line.trim() === "") continue;
    const where = `${name}:${i + 1}`;
    try {
      records.push({ value: JSON.parse(line), where });
    } catch (e) {
      const problem = `invalid JSON (${(e as Error).message}): ${show(line, 80)}`;
      records.push({ value: undefined, where, problem });
    }
  }
  return records;
}

/**
 * The records of a file holding one JSON array (MathQA's train/dev/test.json), located as
 * `name row I`. A file that is not JSON, or not an array, throws a {@linkcode DataError}.
 *
 * @example
 * ```ts
 * import { jsonArrayRecords } from "./files.ts";
 * const records = jsonArrayRecords(new TextEncoder().encode('[{"a":1},{"a":2}]'), "t.json");
 * console.log(records[1].where); // "t.json row 1"
 * ```
 */
export function jsonArrayRecords(bytes: Uint8Array, name: string): RawRecord[] {
  let value: unknown;
  try {
    value = JSON.parse(decodeUtf8(bytes, name));
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`${name}: invalid JSON (${(e as Error).message})`, { cause: e });
  }
  if (!Array.isArray(value)) {
    throw new DataError(`${name}: expected a JSON array of records, got ${show(value, 60)}`);
  }
  return value.map((v, i) => ({ value: v, where: `${name} row ${i}` }));
}

/**
 * The rows of a parquet file as plain objects (structs as objects, lists as arrays),
 * located as `name row I`. Read with `hyparquet`, which decodes the snappy-compressed
 * files the Hugging Face Hub exports. An unreadable file throws a {@linkcode DataError}.
 *
 * @example
 * ```ts
 * import { parquetRecords } from "./files.ts";
 * const bytes = await Deno.readFile("data/gsm8k/main/test-00000-of-00001.parquet");
 * const records = await parquetRecords(bytes, "test.parquet");
 * console.log(Object.keys(records[0].value as object)); // ["question", "answer"]
 * ```
 */
export async function parquetRecords(bytes: Uint8Array, name: string): Promise<RawRecord[]> {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  let rows: Record<string, unknown>[];
  try {
    rows = await parquetReadObjects({ file: buffer as ArrayBuffer });
  } catch (e) {
    throw new DataError(`${name}: cannot read parquet file: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return rows.map((v, i) => ({ value: v, where: `${name} row ${i}` }));
}

/**
 * Extracts the members of a zip archive whose names satisfy `want` (all when omitted).
 * Names are as stored in the archive (`/`-separated). A corrupt archive throws a
 * {@linkcode DataError} naming it.
 *
 * @example
 * ```ts
 * import { zipSync } from "fflate";
 * import { unzipMembers } from "./files.ts";
 * const zip = zipSync({ "a/train.json": new TextEncoder().encode("[]") });
 * console.log(Object.keys(unzipMembers(zip, "x.zip"))); // ["a/train.json"]
 * ```
 */
export function unzipMembers(
  bytes: Uint8Array,
  name: string,
  want?: (member: string) => boolean,
): Record<string, Uint8Array> {
  try {
    return unzipSync(bytes, want ? { filter: (f) => want(f.name) } : undefined);
  } catch (e) {
    throw new DataError(`${name}: cannot read zip archive: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/**
 * Relative paths (`/`-separated, sorted) of the files under `dir`, down to `depth` levels
 * of sub-folders; hidden entries (a leading `.`) are skipped.
 *
 * @example
 * ```ts
 * import { listFiles } from "./files.ts";
 * console.log(await listFiles("data/gsm8k")); // ["LICENSE", "test.jsonl", "train.jsonl"]
 * ```
 */
export async function listFiles(dir: string, depth = 4): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string, level: number) => {
    for await (const entry of Deno.readDir(rel === "" ? dir : joinPath(dir, rel))) {
      if (entry.name.startsWith(".")) continue;
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory && level < depth) await walk(path, level + 1);
      else if (entry.isFile) out.push(path);
    }
  };
  await walk("", 0);
  return out.sort();
}

/**
 * Whether `rel` (a `/`-separated relative path) names the file `suffix`: equal to it or
 * ending with `/suffix`.
 *
 * @example
 * ```ts
 * import { pathEndsWith } from "./files.ts";
 * console.log(pathEndsWith("x/Data/train.json", "train.json")); // true
 * console.log(pathEndsWith("challenge_train.json", "train.json")); // false
 * ```
 */
export function pathEndsWith(rel: string, suffix: string): boolean {
  return rel === suffix || rel.endsWith(`/${suffix}`);
}

/**
 * The words of a path: its pieces between `/`, `_`, `-` and `.` (lowercase), so that a
 * split name can be found in `main/train-00000-of-00001.parquet`.
 *
 * @example
 * ```ts
 * import { pathWords } from "./files.ts";
 * console.log(pathWords("main/train-00000-of-00001.parquet"));
 * // ["main", "train", "00000", "of", "00001", "parquet"]
 * ```
 */
export function pathWords(rel: string): string[] {
  return rel.toLowerCase().split(/[\/\\_.\-]+/).filter((w) => w !== "");
}

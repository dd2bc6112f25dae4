/**
 * Checksummed downloads of data files into a cache folder, with a progress callback and a
 * ready-made text progress bar.
 *
 * @module
 */

import { DataError } from "./errors.ts";

/**
 * One file to fetch: where it lives, what it is called on disk and its sha256 (full hex
 * digest or its leading digits).
 *
 * @example
 * ```ts
 * import { type DownloadFile, downloadFiles } from "@lossforge/core";
 * const file: DownloadFile = {
 *   name: "MathQA.zip",
 *   url: "https://math-qa.github.io/math-QA/data/MathQA.zip",
 *   sha256: "7344f30456a7aef3176d4866cc953b35b41bec44eda6b00cdbcfde2876b2f07a",
 *   bytes: 7302821,
 * };
 * await downloadFiles([file], "data/mathqa");
 * ```
 */
export interface DownloadFile {
  /** The file name in the destination folder. */
  name: string;
  /** Where to fetch it. */
  url: string;
  /** Expected sha256 (lowercase hex; a leading part of the digest is accepted). */
  sha256: string;
  /** Expected size in bytes, when known (informational: the checksum decides). */
  bytes?: number;
}

/**
 * Progress of a download ({@linkcode downloadFiles}, `downloadGsm8k`, `downloadTask`).
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
  /** The file's name (e.g. `"train.jsonl"`). */
  file: string;
  /** Bytes received so far. */
  bytes: number;
  /** Content length if the server sent one. */
  total?: number;
  /** True once the file is verified and in place (or was already there). */
  done: boolean;
}

/**
 * Options of the downloaders.
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
 * Options of {@linkcode downloadFiles}: those of every downloader plus the advice printed
 * when a file cannot be fetched.
 *
 * @example
 * ```ts
 * import { downloadFiles, type DownloadFilesOptions } from "@lossforge/core";
 * const options: DownloadFilesOptions = {
 *   offlineHint: "get a.txt from https://example.org/ and pass its folder with --data DIR",
 * };
 * const file = { name: "a.txt", url: "https://example.org/a.txt", sha256: "ab" };
 * await downloadFiles([file], "d", options);
 * ```
 */
export interface DownloadFilesOptions extends DownloadOptions {
  /** Appended to a failed download's message: where else to get the files, which flag. */
  offlineHint?: string;
}

/**
 * The sha256 of some bytes as lowercase hex (via `crypto.subtle`).
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./download.ts";
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

/** `dir/name` without doubling a trailing separator. */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") || dir.endsWith("\\") ? dir + name : `${dir}/${name}`;
}

/**
 * Downloads `files` into `dir` (created if needed), checking each one's sha256. Each file
 * is written to a temporary file in `dir` and renamed into place only once verified, so a
 * failed or interrupted download never leaves a partial file. Files already present and
 * verified are kept (and not fetched) unless `force` is set. A network failure or an HTTP
 * error throws a one-line {@linkcode DataError} naming the URL, followed by `offlineHint`.
 *
 * @param files What to fetch.
 * @param dir The destination folder.
 * @param options Progress callback, fetch override, `force`, `offlineHint`.
 * @returns The path of each file, by name.
 *
 * @example
 * ```ts
 * import { downloadFiles, progressBar } from "@lossforge/core";
 * const paths = await downloadFiles([{
 *   name: "hellaswag_val.jsonl",
 *   url: "https://raw.githubusercontent.com/rowanz/hellaswag/master/data/hellaswag_val.jsonl",
 *   sha256: "0aa3b88843990f3f10a97b9575c94d7b71fb2205240ba04ae4884d9e9c992588",
 * }], "data/hellaswag", { onProgress: progressBar() });
 * console.log(paths["hellaswag_val.jsonl"]); // "data/hellaswag/hellaswag_val.jsonl"
 * ```
 */
export async function downloadFiles(
  files: readonly DownloadFile[],
  dir: string,
  options: DownloadFilesOptions = {},
): Promise<Record<string, string>> {
  const doFetch = options.fetch ?? ((url: string) => fetch(url));
  const hint = options.offlineHint ??
    `If offline, get ${files.map((f) => f.name).join(", ")} elsewhere and pass their folder ` +
      `with --data DIR`;
  await Deno.mkdir(dir, { recursive: true });
  const out: Record<string, string> = {};
  for (const spec of files) {
    const dest = joinPath(dir, spec.name);
    out[spec.name] = dest;
    const file = spec.name;
    if (!options.force) {
      const existing = await Deno.readFile(dest).catch(() => null);
      if (existing && (await sha256Hex(existing)).startsWith(spec.sha256.toLowerCase())) {
        options.onProgress?.({ file, bytes: existing.length, total: existing.length, done: true });
        continue;
      }
    }
    let response: Response;
    try {
      response = await doFetch(spec.url);
    } catch (e) {
      throw new DataError(
        `${spec.url}: download failed (${oneLine((e as Error).message)}). ${hint}`,
        { cause: e },
      );
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new DataError(`${spec.url}: download failed with HTTP ${response.status}. ${hint}`);
    }
    const lengthHeader = response.headers.get("content-length");
    const total = lengthHeader !== null ? Number(lengthHeader) : spec.bytes;
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    if (response.body) {
      try {
        for await (const chunk of response.body) {
          chunks.push(chunk);
          bytes += chunk.length;
          options.onProgress?.({ file, bytes, total, done: false });
        }
      } catch (e) {
        throw new DataError(
          `${spec.url}: download interrupted after ${bytes} bytes ` +
            `(${oneLine((e as Error).message)}). ${hint}`,
          { cause: e },
        );
      }
    }
    const data = new Uint8Array(bytes);
    let offset = 0;
    for (const c of chunks) {
      data.set(c, offset);
      offset += c.length;
    }
    await verifySha256Prefix(data, spec.sha256, spec.url);
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

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ");
}

/**
 * Options of {@linkcode progressBar}.
 *
 * @example
 * ```ts
 * import { progressBar, type ProgressBarOptions } from "@lossforge/core";
 * const lines: string[] = [];
 * const options: ProgressBarOptions = { write: (s) => lines.push(s), width: 10, label: "mathqa" };
 * progressBar(options)({ file: "MathQA.zip", bytes: 5, total: 10, done: false });
 * console.log(lines[0]); // "\rmathqa MathQA.zip [#####     ]  50% 0.0/0.0 MB"
 * ```
 */
export interface ProgressBarOptions {
  /** Where the text goes (default: standard error, without a newline per update). */
  write?: (text: string) => void;
  /** Bar width in characters (default 30). */
  width?: number;
  /** Printed before the file name (e.g. the task). */
  label?: string;
}

/**
 * A progress callback for the downloaders that draws one line per file on standard error
 * (`\r`-updated, a newline when the file is done): the bar and percentage when the size is
 * known, else the megabytes received.
 *
 * @param options Output, width, label.
 * @returns A function to pass as `onProgress`.
 *
 * @example
 * ```ts
 * import { downloadTask, progressBar } from "@lossforge/core";
 * await downloadTask("hellaswag", "data/hellaswag", { onProgress: progressBar() });
 * // hellaswag_train.jsonl [##############                ]  47% 22.3/47.5 MB
 * ```
 */
export function progressBar(options: ProgressBarOptions = {}): (p: DownloadProgress) => void {
  const encoder = new TextEncoder();
  const write = options.write ?? ((s: string) => Deno.stderr.writeSync(encoder.encode(s)));
  const width = options.width ?? 30;
  const label = options.label ? `${options.label} ` : "";
  return (p) => {
    const mb = (n: number) => (n / 1e6).toFixed(1);
    let line: string;
    if (p.total !== undefined && p.total > 0) {
      const frac = Math.min(1, p.bytes / p.total);
      const filled = Math.round(frac * width);
      const pct = String(Math.round(frac * 100)).padStart(3);
      line = `${label}${p.file} [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${pct}% ` +
        `${mb(p.bytes)}/${mb(p.total)} MB`;
    } else {
      line = `${label}${p.file} ${mb(p.bytes)} MB`;
    }
    write(`\r${line}${p.done ? "\n" : ""}`);
  };
}

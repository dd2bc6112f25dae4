/**
 * Writes that never leave a half-written file or folder behind: data goes to a temporary
 * name in the same folder (so the rename stays on one file system), is flushed to disk
 * (the file, then its folder), then renamed over the final name, and the folder holding it
 * is flushed again so the rename itself survives a power cut. A crash leaves either the old
 * file or the new one, plus at most a temporary name that `removeStaleTemps` clears.
 *
 * A failed write throws `RunFolderError` naming the final path.
 *
 * @module
 */

import { LossforgeError } from "../autograd/errors.ts";
import { RunFolderError } from "./errors.ts";
import { injectedWriteFailure, slowWritePause } from "./test_hooks.ts";

/** `name.tmp-<pid>-<random>` (and `-old`), hidden; what `removeStaleTemps` recognises. */
const TEMP = /^\..+\.tmp-\d+-[0-9a-z]+(-old)?$/;

function tempName(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.tmp-${Deno.pid}-${rand}`;
}

function parentOf(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, "");
  const slash = Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\"));
  return slash < 0 ? "." : slash === 0 ? "/" : trimmed.slice(0, slash);
}

function writeError(path: string, e: unknown): unknown {
  if (e instanceof LossforgeError) return e;
  return new RunFolderError(`cannot write ${path}: ${(e as Error)?.message ?? e}`, path, {
    cause: e,
  });
}

/**
 * Flushes a folder's entries (new names, renames) to disk. Windows cannot open a folder as a
 * file; there the rename is as durable as the file system makes it.
 *
 * @example
 * ```ts
 * import { syncDir } from "./atomic.ts";
 * await Deno.writeTextFile("notes.txt", "x");
 * await syncDir("."); // the new name is on disk, not only in the page cache
 * ```
 */
export async function syncDir(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  const f = await Deno.open(dir, { read: true });
  try {
    await f.sync();
  } finally {
    f.close();
  }
}

/**
 * Writes `data` to `path` and flushes it to disk (not atomic by itself: for files inside a
 * folder that `writeDirAtomic` renames into place).
 *
 * @example
 * ```ts
 * import { writeDirAtomic, writeFileSynced } from "./atomic.ts";
 * await writeDirAtomic("out/ckpt", (tmp) => writeFileSynced(`${tmp}/state.json`, "{}"));
 * ```
 */
export async function writeFileSynced(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    // The test hooks act halfway through, where a crash or a full disk would hurt most.
    const half = bytes.length >> 1;
    let written = 0;
    while (written < half) written += await file.write(bytes.subarray(written, half));
    injectedWriteFailure(path);
    await slowWritePause();
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } finally {
    file.close();
  }
}

/**
 * Writes `data` to `path` atomically (temporary file, fsync, rename, fsync of the folder).
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * await writeFileAtomic("results.json", JSON.stringify({ ok: true }));
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = tempName(path);
  try {
    await writeFileSynced(tmp, data);
    injectedWriteFailure(path);
    await slowWritePause();
    await Deno.rename(tmp, path);
    await syncDir(parentOf(path));
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw writeError(path, e);
  }
}

/**
 * Fills a fresh temporary folder next to `dir` with `fill(tmpDir)` (write its files with
 * `writeFileSynced`), then renames it to `dir`, replacing an existing `dir` only once the
 * new one is complete and on disk.
 *
 * @example
 * ```ts
 * import { writeDirAtomic, writeFileSynced } from "./atomic.ts";
 * await writeDirAtomic("out/ckpt", async (tmp) => {
 *   await writeFileSynced(`${tmp}/state.json`, "{}");
 * });
 * ```
 */
export async function writeDirAtomic(
  dir: string,
  fill: (tmpDir: string) => Promise<void>,
): Promise<void> {
  const tmp = tempName(dir);
  try {
    await Deno.mkdir(tmp, { recursive: true });
    await fill(tmp);
    await syncDir(tmp);
    await slowWritePause();
    let old: string | undefined;
    try {
      await Deno.stat(dir);
      old = tempName(dir) + "-old";
      await Deno.rename(dir, old);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    await Deno.rename(tmp, dir);
    await syncDir(parentOf(dir));
    if (old) await Deno.remove(old, { recursive: true });
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw writeError(dir, e);
  }
}

/**
 * Removes what interrupted atomic writes left in `dir`: the temporary files and folders
 * (`.name.tmp-<pid>-<random>`), and puts back a folder whose replacement never took its
 * name. Call it only while holding the folder's lock, so that no write in progress is taken
 * for a leftover. Returns the names removed.
 *
 * @example
 * ```ts
 * import { removeStaleTemps } from "./atomic.ts";
 * console.log(await removeStaleTemps("runs/a/checkpoints")); // [".step-00000020.tmp-4242-x1"]
 * ```
 */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const m = TEMP.exec(e.name);
      if (!m) continue;
      // An `-old` folder is the previous version of one that was being replaced: when the
      // crash came before the new one took its name, it goes back.
      const original = `${dir}/${e.name.slice(1, e.name.lastIndexOf(".tmp-"))}`;
      if (m[1] && !(await Deno.stat(original).then(() => true, () => false))) {
        await Deno.rename(`${dir}/${e.name}`, original);
        continue;
      }
      await Deno.remove(`${dir}/${e.name}`, { recursive: true }).catch(() => {});
      removed.push(e.name);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return removed.sort();
}

/**
 * Writes that never leave a half-written file or folder behind: data goes to a temporary
 * name in the same folder (so the rename stays on one file system), is flushed to disk,
 * then renamed over the final name. A crash leaves either the old file or the new one.
 *
 * @module
 */

function tempName(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.tmp-${Deno.pid}-${rand}`;
}

/**
 * Writes `data` to `path` atomically (temporary file, fsync, rename).
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * await writeFileAtomic("results.json", JSON.stringify({ ok: true }));
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = tempName(path);
  try {
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/**
 * Fills a fresh temporary folder next to `dir` with `fill(tmpDir)`, then renames it to
 * `dir`, replacing an existing `dir` only once the new one is complete.
 *
 * @example
 * ```ts
 * import { writeDirAtomic } from "./atomic.ts";
 * await writeDirAtomic("out/ckpt", async (tmp) => {
 *   await Deno.writeTextFile(`${tmp}/state.json`, "{}");
 * });
 * ```
 */
export async function writeDirAtomic(
  dir: string,
  fill: (tmpDir: string) => Promise<void>,
): Promise<void> {
  const tmp = tempName(dir);
  await Deno.mkdir(tmp, { recursive: true });
  try {
    await fill(tmp);
    let old: string | undefined;
    try {
      await Deno.stat(dir);
      old = tempName(dir) + "-old";
      await Deno.rename(dir, old);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    await Deno.rename(tmp, dir);
    if (old) await Deno.remove(old, { recursive: true });
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

/**
 * One run per folder: a run takes `run.lock` in its folder before writing there, and a second
 * run on the same folder refuses to start instead of interleaving checkpoints and results.
 * The lock records the holder's pid and host, so a lock left by a run that died (SIGKILL, a
 * power cut) does not block forever: on the same host, a lock whose process is gone is taken
 * over. A lock from another host is never judged (its pid means nothing here).
 *
 * @module
 */

import { RunFolderError } from "../spec/errors.ts";

/**
 * What `run.lock` holds.
 *
 * @example
 * ```ts
 * import type { RunLockInfo } from "./lock.ts";
 * const info: RunLockInfo = { pid: 4242, host: "node7", since: "2025-01-01T00:00:00.000Z" };
 * console.log(`${info.pid}@${info.host}`);
 * ```
 */
export interface RunLockInfo {
  /** The holder's process id. */
  pid: number;
  /** The holder's host name. */
  host: string;
  /** When the lock was taken (ISO time). */
  since: string;
  /** The process's start time in clock ticks since boot (Linux), to tell a reused pid. */
  started?: number;
  /** Tells this lock from another one by the same process. */
  token?: string;
}

/**
 * A held lock: `release()` removes the file when it is still this lock.
 *
 * @example
 * ```ts
 * import { lockRunFolder } from "./lock.ts";
 * const lock = await lockRunFolder("runs/a");
 * try {
 *   // ... write checkpoints and results into runs/a ...
 * } finally {
 *   await lock.release();
 * }
 * ```
 */
export interface RunLock {
  /** The lock file. */
  readonly path: string;
  /** Removes the lock file (if it is still this lock). */
  release(): Promise<void>;
}

/** The lock file's name inside a run folder. */
export const LOCK_FILE = "run.lock";

function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command name), or undefined. */
function linuxStartTime(pid: number): number | undefined | "gone" {
  if (Deno.build.os !== "linux") return undefined;
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (e) {
    return e instanceof Deno.errors.NotFound ? "gone" : undefined;
  }
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) ? ticks : undefined;
}

/** Whether the process that wrote `info` on this host may still be running. */
function mayBeAlive(info: RunLockInfo): boolean {
  if (info.pid === Deno.pid) return true;
  const started = linuxStartTime(info.pid);
  if (started === "gone") return false;
  if (started !== undefined) return info.started === undefined || info.started === started;
  // Elsewhere, `kill -0` tells whether the pid exists (when running commands is allowed).
  try {
    const r = new Deno.Command("kill", {
      args: ["-0", String(info.pid)],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return r.success;
  } catch {
    return true;
  }
}

async function readLock(path: string): Promise<RunLockInfo | undefined> {
  try {
    const v = JSON.parse(await Deno.readTextFile(path));
    return typeof v?.pid === "number" && typeof v?.host === "string" ? v : undefined;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw e;
    return undefined;
  }
}

/**
 * Takes `dir/run.lock` (creating `dir`), or throws `RunFolderError` naming the run that holds
 * it. A lock whose process is gone (same host) is taken over, as is an unreadable one older
 * than a few seconds (a crash between creating and filling it).
 *
 * @example
 * ```ts
 * import { lockRunFolder } from "./lock.ts";
 * const first = await lockRunFolder("runs/a");
 * await lockRunFolder("runs/a").catch((e) => console.log(e.message)); // runs/a is in use by ...
 * await first.release();
 * ```
 */
export async function lockRunFolder(dir: string): Promise<RunLock> {
  const base = dir.replace(/[\\/]+$/, "") || ".";
  const path = `${base}/${LOCK_FILE}`;
  try {
    await Deno.mkdir(base, { recursive: true });
  } catch (e) {
    throw new RunFolderError(`cannot create run folder ${base}: ${(e as Error).message}`, base, {
      cause: e,
    });
  }
  const host = hostName();
  const token = crypto.randomUUID();
  const started = linuxStartTime(Deno.pid);
  const mine: RunLockInfo = {
    pid: Deno.pid,
    host,
    since: new Date().toISOString(),
    ...(typeof started === "number" ? { started } : {}),
    token,
  };
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const f = await Deno.open(path, { write: true, createNew: true });
      try {
        await f.write(new TextEncoder().encode(JSON.stringify(mine) + "\n"));
        await f.sync();
      } finally {
        f.close();
      }
      return { path, release: () => releaseLock(path, token) };
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) {
        throw new RunFolderError(`cannot write ${path}: ${(e as Error).message}`, path, {
          cause: e,
        });
      }
    }
    let holder: RunLockInfo | undefined;
    try {
      holder = await readLock(path);
    } catch {
      continue; // released meanwhile: try again
    }
    if (holder === undefined) {
      // Being written by a run that just took it, or left empty by a crash right then.
      const age = Date.now() - ((await Deno.stat(path).catch(() => null))?.mtime?.getTime() ?? 0);
      if (age < 3000) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
    } else if (holder.host !== host || mayBeAlive(holder)) {
      throw new RunFolderError(
        `${base} is in use by another run (pid ${holder.pid} on ${holder.host}, since ` +
          `${holder.since}); wait for it to end or use another folder` +
          (holder.host === host ? "" : `, or delete ${path} if that run is gone`),
        path,
      );
    }
    await Deno.remove(path).catch(() => {});
  }
  throw new RunFolderError(`cannot take ${path}: it keeps changing (another run starting?)`, path);
}

async function releaseLock(path: string, token: string): Promise<void> {
  try {
    if ((await readLock(path))?.token === token) await Deno.remove(path);
  } catch {
    // Already gone: nothing to release.
  }
}

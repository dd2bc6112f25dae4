/**
 * Test hooks for the run folder's writes, read from the environment so that a test can set
 * them on a child process: they make the moments a crash test aims at (a checkpoint or a
 * results file half written) last long enough to hit, and stand in for a full disk. Unset,
 * they cost one environment lookup per write and change nothing.
 *
 * - `LOSSFORGE_TEST_SLOW_WRITES=MS`: each file write pauses MS milliseconds halfway through
 *   its bytes, and each atomic write pauses MS milliseconds again before its rename.
 * - `LOSSFORGE_TEST_FAIL_WRITES=TEXT`: writing a file whose path contains TEXT fails as a
 *   full disk would (`No space left on device`), after half its bytes are written.
 *
 * @module
 */

/** The value of `name` when set and readable without a permission prompt, else undefined. */
function env(name: string): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
      return undefined;
    }
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pause `LOSSFORGE_TEST_SLOW_WRITES` asks for, in milliseconds (0 when unset).
 *
 * @example
 * ```ts
 * import { slowWriteMs } from "./test_hooks.ts";
 * console.log(slowWriteMs()); // 0 unless a test set LOSSFORGE_TEST_SLOW_WRITES
 * ```
 */
export function slowWriteMs(): number {
  const ms = Number(env("LOSSFORGE_TEST_SLOW_WRITES") ?? 0);
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

/**
 * Waits `slowWriteMs()` milliseconds, when a test asked for slow writes.
 *
 * @example
 * ```ts
 * import { slowWritePause } from "./test_hooks.ts";
 * await slowWritePause(); // returns at once unless LOSSFORGE_TEST_SLOW_WRITES is set
 * ```
 */
export async function slowWritePause(): Promise<void> {
  const ms = slowWriteMs();
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}

/**
 * Throws the error a full disk gives when `LOSSFORGE_TEST_FAIL_WRITES` names part of `path`.
 *
 * @example
 * ```ts
 * import { injectedWriteFailure } from "./test_hooks.ts";
 * injectedWriteFailure("runs/a/result.json"); // throws only under LOSSFORGE_TEST_FAIL_WRITES
 * ```
 */
export function injectedWriteFailure(path: string): void {
  const text = env("LOSSFORGE_TEST_FAIL_WRITES");
  if (text && path.includes(text)) {
    throw Object.assign(
      new Error(`No space left on device (os error 28) (LOSSFORGE_TEST_FAIL_WRITES=${text})`),
      { code: "ENOSPC" },
    );
  }
}

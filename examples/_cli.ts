/**
 * What the examples share as command-line programs: a usage error (one line on stderr, exit
 * code 2), the exit-code contract (0 success, 2 bad input, 1 internal error) and atomic writes
 * (a result file is never left half-written).
 * @module
 */

/** A problem with what the user asked for: printed as one line, exit code 2. */
export class UsageError extends Error {}

/** Runs `main` as a program: its return value is the exit code; errors map to 2 or 1. */
export async function runMain(main: () => Promise<number>): Promise<never> {
  try {
    Deno.exit(await main());
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`error: ${e.message}`);
      Deno.exit(2);
    }
    console.error(e);
    Deno.exit(1);
  }
}

/** Writes a text file through a temporary file and a rename. */
export async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(tmp, text);
  await Deno.rename(tmp, path);
}

/**
 * A numeric flag: `raw` as a number (an integer when `int`) within [min, max], else a
 * UsageError naming the flag and the value.
 */
export function parseNumber(
  name: string,
  raw: unknown,
  { int = false, min = -Infinity, max = Infinity } = {},
): number {
  const v = typeof raw === "number" ? raw : Number(String(raw).trim());
  if (String(raw).trim() === "" || !Number.isFinite(v) || (int && !Number.isInteger(v))) {
    throw new UsageError(`--${name}: expected ${int ? "an integer" : "a number"}, got "${raw}"`);
  }
  if (v < min) throw new UsageError(`--${name}: must be >= ${min}, got ${v}`);
  if (v > max) throw new UsageError(`--${name}: must be <= ${max}, got ${v}`);
  return v;
}

/** Whether `path` is an existing file. */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

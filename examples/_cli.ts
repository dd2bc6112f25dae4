/**
 * What the examples share as command-line programs: a usage error (one line on stderr, exit
 * code 2), the exit-code contract (0 success, 2 bad input, 1 internal error), flags with an
 * optional JSON config file, atomic writes (a result file is never left half-written) and a
 * download progress bar.
 * @module
 */
import { parseArgs } from "node:util";

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

/** `parseArgs` option declarations: string and boolean flags. */
export type FlagSpec = Record<string, { type: "string" | "boolean"; short?: string }>;

/**
 * The flags in `argv` (strictly: an unknown flag is a UsageError), or "help" for --help. With
 * a `config` flag, its file's JSON object supplies flags not given (lists may be arrays).
 */
export async function readFlags(
  argv: string[],
  flags: FlagSpec,
): Promise<Record<string, unknown> | "help"> {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: argv, options: flags, strict: true, allowPositionals: false })
      .values;
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]);
  }
  if (values.help) return "help";
  if (typeof values.config === "string") {
    let cfg: Record<string, unknown>;
    try {
      cfg = JSON.parse(await Deno.readTextFile(values.config));
    } catch (e) {
      throw new UsageError(`--config ${values.config}: ${(e as Error).message}`);
    }
    if (!cfg || typeof cfg !== "object" || Array.isArray(cfg)) {
      throw new UsageError(`--config ${values.config}: expected a JSON object`);
    }
    for (const [k, v] of Object.entries(cfg)) {
      if (!(k in flags) || k === "config") {
        throw new UsageError(`--config ${values.config}: unknown key "${k}"`);
      }
      if (values[k] === undefined) values[k] = Array.isArray(v) ? v.join(",") : v;
    }
  }
  return values;
}

/** A flag with a fixed set of values: `raw` (or `fallback` when absent), else a UsageError. */
export function parseChoice<T extends string | number, F = T>(
  name: string,
  raw: unknown,
  choices: readonly T[],
  fallback: F,
): T | F {
  if (raw === undefined) return fallback;
  const found = choices.find((c) => String(c) === String(raw));
  if (found === undefined) {
    const list = choices.map(String);
    throw new UsageError(
      `--${name}: expected ${list.slice(0, -1).join(", ")} or ${list.at(-1)}, got "${raw}"`,
    );
  }
  return found;
}

/** A download's progress: a bar on a terminal (stderr), one line per finished file otherwise. */
export function downloadProgress(): (
  p: { file: string; bytes: number; total?: number; done: boolean },
) => void {
  const tty = Deno.stderr.isTerminal();
  return (p) => {
    if (!tty && !p.done) return;
    const frac = p.total ? p.bytes / p.total : 0;
    const bar = "#".repeat(Math.round(frac * 30)).padEnd(30, ".");
    const text = `${p.file} [${bar}] ${(p.bytes / 1e6).toFixed(1)} MB` +
      (p.total ? ` of ${(p.total / 1e6).toFixed(1)} MB` : "");
    const line = tty ? `\r${text}${p.done ? "\n" : ""}` : `${text}\n`;
    Deno.stderr.writeSync(new TextEncoder().encode(line));
  };
}

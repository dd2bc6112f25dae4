/**
 * What the examples share as command-line programs: a usage error (one line on stderr, exit
 * code 2), the exit-code contract (0 success, 2 bad input, 1 internal error), declared flags
 * (typed, range-checked, with an optional JSON config file and the help text laid out from
 * the declarations), a run folder that remembers its flags for --resume, a GSM8K folder
 * checked (or downloaded) before anything is written, atomic writes (a result file is never
 * left half-written) and a download progress bar.
 * @module
 */
import { parseArgs } from "node:util";
import {
  downloadGsm8k,
  type LanguageModel,
  lora,
  type LoraModel,
  type LoraOptions,
  type LoraPreset,
  LossforgeError,
  type ParamTree,
  readGsm8kJsonl,
} from "../mod.ts";

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
    // The library's own errors (a full disk, a run folder in use) say all there is to say.
    if (e instanceof LossforgeError) {
      console.error(`error: ${e.message}`);
      Deno.exit(1);
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
 * the `configFlag` flag (default `--config`), its file's JSON object supplies flags not given
 * (lists may be arrays).
 */
export async function readFlags(
  argv: string[],
  flags: FlagSpec,
  configFlag = "config",
): Promise<Record<string, unknown> | "help"> {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: argv, options: flags, strict: true, allowPositionals: false })
      .values;
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]);
  }
  if (values.help) return "help";
  const file = values[configFlag];
  if (typeof file === "string") {
    let cfg: Record<string, unknown>;
    try {
      cfg = JSON.parse(await Deno.readTextFile(file));
    } catch (e) {
      throw new UsageError(`--${configFlag} ${file}: ${(e as Error).message}`);
    }
    if (!cfg || typeof cfg !== "object" || Array.isArray(cfg)) {
      throw new UsageError(`--${configFlag} ${file}: expected a JSON object`);
    }
    for (const [k, v] of Object.entries(cfg)) {
      if (!(k in flags) || k === configFlag) {
        throw new UsageError(`--${configFlag} ${file}: unknown key "${k}"`);
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

/**
 * A declared flag: how --help shows it and how its text (or config value) is read. Make one
 * with {@linkcode flag}, {@linkcode text}, {@linkcode int}, {@linkcode num},
 * {@linkcode choice}, {@linkcode list}, {@linkcode numbers} or {@linkcode config}.
 */
export interface Flag<T> {
  /** A boolean flag takes no value. */
  boolean?: true;
  /** This flag names a JSON file whose object supplies flags not given (not a value). */
  config?: true;
  /** The value's name in --help (`DIR`, `N`). */
  arg?: string;
  /** The help text; `\n` starts a continuation line. */
  help: string;
  /** A heading printed above this flag in --help (see {@linkcode section}). */
  section?: string;
  /** The value when the flag is absent, shown in --help unless `help` names its default. */
  default?: unknown;
  /** The value from the flag's text, or from `undefined` when it is absent. */
  read(name: string, raw: unknown): T;
}

/** A switch: true when given. */
export function flag(help: string): Flag<boolean> {
  return { boolean: true, help, read: (_name, raw) => Boolean(raw) };
}

/** Text (a folder, a file), or `fallback` when absent. */
export function text<const D extends string | undefined = undefined>(
  arg: string,
  help: string,
  fallback?: D,
): Flag<string | D> {
  return {
    arg,
    help,
    default: fallback,
    read: (_name, raw) => raw === undefined ? fallback as D : String(raw),
  };
}

/** The flag that names a JSON config file: its object's keys are flags (flags win). */
export function config(arg: string, help: string): Flag<string | undefined> {
  return { ...text(arg, help), config: true };
}

interface NumberRule<D> {
  /** The value when absent. */
  default?: D;
  /** The smallest value allowed. */
  min?: number;
  /** The largest value allowed. */
  max?: number;
}

function numberFlag<D extends number | undefined>(
  arg: string,
  help: string,
  rule: NumberRule<D>,
  isInt: boolean,
): Flag<number | D> {
  const range = { int: isInt, min: rule.min, max: rule.max };
  return {
    arg,
    help,
    default: rule.default,
    read: (name, raw) =>
      raw === undefined && rule.default === undefined
        ? rule.default as D
        : parseNumber(name, raw ?? rule.default, range),
  };
}

/** An integer within [min, max] (`--steps: expected an integer, got "many"`). */
export function int<const D extends number | undefined = undefined>(
  arg: string,
  help: string,
  rule: NumberRule<D> = {},
): Flag<number | D> {
  return numberFlag(arg, help, rule, true);
}

/** A number within [min, max]. */
export function num<const D extends number | undefined = undefined>(
  arg: string,
  help: string,
  rule: NumberRule<D> = {},
): Flag<number | D> {
  return numberFlag(arg, help, rule, false);
}

/**
 * One of `choices` (`--arch: expected llama or gpt, got "rnn"`); with `noun`, a wrong value
 * reads `unknown <noun> "x"; valid: a, b, c`.
 */
export function choice<
  const C extends string | number,
  const D extends C | undefined = undefined,
>(
  arg: string,
  help: string,
  rule: { choices: readonly C[]; default?: D; noun?: string },
): Flag<C | D> {
  return {
    arg,
    help,
    default: rule.default,
    read: (name, raw) => {
      if (raw === undefined || !rule.noun) {
        return parseChoice(name, raw, rule.choices, rule.default as D);
      }
      return oneOf(name, raw, rule.choices, rule.noun);
    },
  };
}

function oneOf<C extends string | number>(
  name: string,
  raw: unknown,
  choices: readonly C[],
  noun: string,
): C {
  const found = choices.find((c) => String(c) === String(raw));
  if (found === undefined) {
    throw new UsageError(`--${name}: unknown ${noun} "${raw}"; valid: ${choices.join(", ")}`);
  }
  return found;
}

/** Comma-separated names from `choices`, at least one (a config file may give an array). */
export function list<const C extends string>(
  arg: string,
  help: string,
  rule: { choices: readonly C[]; default: readonly C[]; noun: string },
): Flag<C[]> {
  return {
    arg,
    help,
    default: rule.default.join(","),
    read: (name, raw) => {
      const items = String(raw ?? rule.default.join(",")).split(",").map((s) => s.trim())
        .filter(Boolean).map((s) => oneOf(name, s, rule.choices, rule.noun));
      if (items.length === 0) throw new UsageError(`--${name}: name at least one ${rule.noun}`);
      return items;
    },
  };
}

const COUNT_WORDS = ["no", "one", "two", "three", "four", "five", "six"];

/** As many comma-separated numbers as `default` has, each at least `min`. */
export function numbers<const D extends readonly number[]>(
  arg: string,
  help: string,
  rule: { default: D; min?: number },
): Flag<{ -readonly [K in keyof D]: number }> {
  const n = rule.default.length, example = rule.default.join(",");
  return {
    arg,
    help,
    default: example,
    read: (name, raw) => {
      const items = String(raw ?? example).split(",");
      if (items.length !== n) {
        const count = COUNT_WORDS[n] ?? n;
        throw new UsageError(`--${name}: expected ${count} numbers like ${example}, got "${raw}"`);
      }
      return items.map((x) => parseNumber(name, x, { min: rule.min })) as {
        -readonly [K in keyof D]: number;
      };
    },
  };
}

/**
 * `--seeds 42,43,44`: distinct integers >= 0, in the order given; undefined when absent. A
 * JSON config may give them as an array.
 */
export function seedList(help: string): Flag<number[] | undefined> {
  return {
    arg: "A,B,...",
    help,
    read: (name, raw) => {
      if (raw === undefined) return undefined;
      const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(",");
      const seeds = items.map((x) => parseNumber(name, x.trim(), { min: 0, int: true }));
      const twice = seeds.find((s, i) => seeds.indexOf(s) !== i);
      if (twice !== undefined) throw new UsageError(`--${name}: seed ${twice} is given twice`);
      return seeds;
    },
  };
}

/** What `--lora-targets` takes: a preset of the model's family, or module names. */
export type LoraTargets = LoraPreset | string[];

/** `--lora-targets paper|attention|LIST`: a preset name or comma-separated module names. */
export function loraTargets(help: string): Flag<LoraTargets | undefined> {
  return {
    arg: "LIST",
    help,
    read: (name, raw) => {
      if (raw === undefined) return undefined;
      const given = Array.isArray(raw) ? raw.join(",") : String(raw).trim();
      if (given === "paper" || given === "attention") return given;
      const names = given.split(",").map((s) => s.trim()).filter(Boolean);
      const bad = names.find((n) => !/^[A-Za-z0-9_.]+$/.test(n));
      if (names.length === 0 || bad !== undefined) {
        throw new UsageError(
          `--${name}: expected paper, attention or module names like q_proj,v_proj, got "${given}"`,
        );
      }
      return names;
    },
  };
}

/** `lora(model, opts)`, its target errors (no such projection) as a UsageError of the flag. */
export function loraFromFlags<P extends ParamTree>(
  model: LanguageModel<P>,
  opts: LoraOptions,
): LoraModel<P> {
  try {
    return lora(model, opts);
  } catch (e) {
    throw new UsageError(`--lora-targets: ${(e as Error).message.replace(/^lora: /, "")}`);
  }
}

/** `flags`, with `title` as a heading above the first of them in --help. */
export function section<const F extends Record<string, Flag<unknown>>>(title: string, flags: F): F {
  const [first] = Object.keys(flags);
  return first === undefined ? flags : { ...flags, [first]: { ...flags[first], section: title } };
}

type Camel<S extends string> = S extends `${infer A}-${infer B}` ? `${A}${Capitalize<Camel<B>>}`
  : S;

/** The values of declared flags, by camelCase name (`--max-number` is `maxNumber`). */
export type FlagValues<F extends Record<string, Flag<unknown>>> = {
  -readonly [
    K in keyof F as K extends string ? F[K] extends { config: true } ? never : Camel<K>
      : never
  ]: F[K] extends Flag<infer T> ? T : never;
};

/** A program's command line: what --help prints around the flags, and the flags. */
export interface CommandLine<F extends Record<string, Flag<unknown>>> {
  /** The first line of --help: the program and what it does. */
  title: string;
  /** How it is run, after `Usage: `. */
  usage: string;
  /** A paragraph between the usage and the flags. */
  about?: string;
  /** The flags, in the order --help lists them (--help itself is added last). */
  flags: F;
  /** The last paragraph of --help. */
  footer?: string;
}

/**
 * A declared command line. `parse` reads the flags strictly (an unknown or malformed one is a
 * UsageError naming it), or prints `help` and gives undefined for --help; `help` is laid out
 * from the declarations, each flag's default added unless its help names it.
 */
export function commandLine<const F extends Record<string, Flag<unknown>>>(
  cli: CommandLine<F>,
): { parse(argv: string[]): Promise<FlagValues<F> | undefined>; help: string } {
  const decls = Object.entries(cli.flags);
  const spec: FlagSpec = Object.fromEntries(
    decls.map(([name, d]) => [name, { type: d.boolean ? "boolean" : "string" }]),
  );
  spec.help = { type: "boolean", short: "h" };
  const lines = decls.flatMap((
    [name, d],
  ) => [...(d.section ? [d.section] : []), helpLine(name, d)]);
  lines.push(helpLine("help", { help: "this text" }));
  const help = [cli.title, `Usage: ${cli.usage}`, cli.about, lines.join("\n"), cli.footer]
    .filter((p) => p !== undefined).join("\n\n");
  const configFlag = decls.find(([, d]) => d.config)?.[0];
  const parse = async (argv: string[]) => {
    const raw = await readFlags(argv, spec, configFlag);
    if (raw === "help") {
      console.log(help);
      return undefined;
    }
    const values = decls.filter(([, d]) => !d.config).map(([name, d]) => [
      name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()),
      d.read(name, raw[name]),
    ]);
    return Object.fromEntries(values) as FlagValues<F>;
  };
  return { parse, help };
}

/** `  --name ARG        help (default X)`, continuation lines aligned under the help. */
function helpLine(name: string, d: Pick<Flag<unknown>, "arg" | "help" | "default">): string {
  const [first, ...rest] = d.help.split("\n");
  const shown = d.default === undefined || /default/.test(d.help) ? "" : ` (default ${d.default})`;
  const flag = `--${name}${d.arg ? ` ${d.arg}` : ""}`.padEnd(16);
  return [`  ${flag}  ${first}${shown}`, ...rest.map((l) => `${" ".repeat(20)}${l}`)].join("\n");
}

/**
 * The flags of a run: with `--resume DIR` (`o.resume`), the flags the run in DIR started with
 * (its run.json's `options`) whatever else is given, but for the flags in `keep` when given
 * now; else `o`. `what` names such a folder in the error.
 */
export async function resumedFlags<O extends { resume?: string }>(
  o: O,
  what: string,
  keep: readonly (keyof O)[] = [],
): Promise<O> {
  const dir = o.resume;
  if (dir === undefined) return o;
  let saved: O;
  try {
    saved = JSON.parse(await Deno.readTextFile(`${dir}/run.json`)).options;
  } catch {
    throw new UsageError(`--resume ${dir}: no readable run.json there (not a ${what})`);
  }
  const kept = Object.fromEntries(keep.map((k) => [k, o[k] ?? saved[k]]));
  return { ...saved, resume: dir, ...kept };
}

/**
 * The GSM8K folder a run reads: `data`, or with `download` the `cache` folder once GSM8K is
 * fetched there (undefined: neither, synthetic problems). Its train.jsonl and test.jsonl are
 * read through first, so a missing file or a bad line (file:line) is a UsageError before the
 * run writes anything; with `skipBad` bad lines are skipped and counted on stderr.
 */
export async function gsm8kFolder(
  o: { data?: string; download: boolean; cache: string; skipBad: boolean },
): Promise<string | undefined> {
  if (o.download) {
    try {
      await downloadGsm8k(o.cache, { onProgress: downloadProgress() });
    } catch (e) {
      throw new UsageError(`--download failed: ${(e as Error).message}`);
    }
  }
  const dir = o.download ? o.data ?? o.cache : o.data;
  for (const f of dir ? ["train.jsonl", "test.jsonl"] : []) {
    if (!(await isFile(`${dir}/${f}`))) {
      throw new UsageError(
        `--data ${dir}: ${f} not found (give a folder holding GSM8K's train.jsonl and ` +
          "test.jsonl, or use --download)",
      );
    }
    try {
      const file = await readGsm8kJsonl(`${dir}/${f}`, { skipBad: o.skipBad });
      if (file.skipped) console.error(`skipped ${file.skipped} bad line(s): ${file.problems[0]}`);
    } catch (e) {
      throw new UsageError(`${(e as Error).message} (pass --skip-bad to skip bad lines)`);
    }
  }
  return dir;
}

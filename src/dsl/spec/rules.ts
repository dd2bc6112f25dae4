/**
 * Range rules for the option names the library's factories share (`lr`, `betas`, `dim`,
 * `heads`, `gamma`, ...). They run on every part's options, whether the part came from a
 * registry spec or was built directly and carries its spec, so `optimizer.lr: must be > 0,
 * got -1` is reported together with every other problem instead of as the first throw.
 *
 * @module
 */

import type { OptionProblem, PartKind } from "./registry.ts";
import { show } from "../../util/show.ts";
import type { Json } from "./types.ts";

type Rule = (value: Json | undefined, options: { [key: string]: Json }) => string | undefined;

const num = (v: Json | undefined): v is number => typeof v === "number" && Number.isFinite(v);

const positive: Rule = (v) =>
  v === undefined || (num(v) && v > 0) ? undefined : `must be > 0, got ${show(v)}`;
const nonNegative: Rule = (v) =>
  v === undefined || (num(v) && v >= 0) ? undefined : `must be >= 0, got ${show(v)}`;
const unit: Rule = (v) =>
  v === undefined || (num(v) && v >= 0 && v < 1) ? undefined : `must be in [0, 1), got ${show(v)}`;
/** Sizes index Int32 shapes, so every count is below 2^31 unless a rule bounds it more. */
const INT_MAX = 2 ** 31 - 1;
const intAtLeast = (min: number, max = INT_MAX): Rule => (v) =>
  v === undefined || (Number.isInteger(v) && (v as number) >= min && (v as number) <= max)
    ? undefined
    : (Number.isInteger(v) && (v as number) >= min)
    ? `must be at most ${max}, got ${show(v)}`
    : `must be an integer >= ${min}, got ${show(v)}`;

const betas: Rule = (v) => {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((b) => num(b) && b >= 0 && b < 1)) {
    return `must be two numbers in [0, 1), got ${show(v)}`;
  }
};

const divides = (dividend: string, divisor: string): Rule => (_v, o) => {
  const a = o[dividend], b = o[divisor];
  if (
    Number.isInteger(a) && Number.isInteger(b) && (b as number) > 0 &&
    (a as number) % (b as number) !== 0
  ) {
    return `${dividend} (${a}) must be divisible by ${divisor} (${b})`;
  }
};

const oneOf = (...allowed: string[]): Rule => (v) =>
  v === undefined || allowed.includes(v as string)
    ? undefined
    : `must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}, got ${show(v)}`;

const combineTerms: Rule = (v) => {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0) return `must be a non-empty array, got ${show(v)}`;
};

const RULES: Record<PartKind, Record<string, Rule>> = {
  optimizer: {
    lr: positive,
    betas,
    eps: positive,
    weightDecay: nonNegative,
    momentum: unit,
  },
  model: {
    vocab: intAtLeast(1),
    context: intAtLeast(1),
    // A model declares its blocks one by one when it is built: their number is bounded (far
    // above any published model), so a damaged config cannot make it build forever.
    layers: intAtLeast(1, 10_000),
    dim: intAtLeast(1),
    heads: intAtLeast(1),
    kvHeads: intAtLeast(1),
    hidden: intAtLeast(1),
    "dim/heads": divides("dim", "heads"),
    "heads/kvHeads": divides("heads", "kvHeads"),
  },
  schedule: {
    lr: nonNegative,
    peak: nonNegative,
    min: nonNegative,
    warmup: intAtLeast(0),
    steps: intAtLeast(1),
  },
  loss: {
    gamma: nonNegative,
    smooth: nonNegative,
    labelSmoothing: unit,
    alpha: (v) => v === undefined || Array.isArray(v) ? undefined : nonNegative(v, {}),
    beta: nonNegative,
    terms: combineTerms,
    masking: oneOf("exclude", "paper"),
  },
  data: {
    maxLength: intAtLeast(2),
    count: intAtLeast(1),
    evalCount: intAtLeast(1),
    padSide: oneOf("left", "right"),
  },
  eval: {
    limit: intAtLeast(1),
    maxNewTokens: intAtLeast(1),
    batchSize: intAtLeast(1),
  },
};

/**
 * Problems in `options` for a part of `kind`, by the shared rules. Paths are relative to
 * the options (cross-field rules report on the first field, e.g. `dim`).
 *
 * @example
 * ```ts
 * import { optionProblems } from "./rules.ts";
 * console.log(optionProblems("optimizer", { lr: -1 }));
 * // [{ path: "lr", message: "must be > 0, got -1" }]
 * ```
 */
export function optionProblems(kind: PartKind, options: { [key: string]: Json }): OptionProblem[] {
  const out: OptionProblem[] = [];
  for (const [key, rule] of Object.entries(RULES[kind])) {
    const field = key.split("/")[0];
    const message = rule(key.includes("/") ? undefined : options[field], options);
    if (message) out.push({ path: field, message });
  }
  return out;
}

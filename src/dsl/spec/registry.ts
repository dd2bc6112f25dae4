/**
 * Named registries of part factories. A pipeline written as JSON names its parts
 * (`{ kind: "adamw", options: { lr: 3e-4 } }`); the registry turns each name back into a
 * live part, and stamps the part with that spec so it can be written out again.
 *
 * Kinds are camelCase, the name of the factory that makes the part without its slot's
 * suffix: `gpt`, `adamw`, `warmupCosine`, `gsm8kSynthetic` (`gsm8kSyntheticData`),
 * `exactMatch` (`exactMatchEval`); losses go by their `lossByName` names (`ce`, `gdice`).
 * A renamed kind keeps its old name as an alias, so config files written with it still load.
 *
 * @module
 */

import type { LossFn } from "../../losses/mod.ts";
import type { Module, ParamTree } from "../../nn/mod.ts";
import type { Optimizer, Schedule } from "../../optim/mod.ts";
import type { DataSource, Described, Evaluator, Json, PartSpec } from "./types.ts";
import { show } from "../../util/show.ts";

/**
 * The six slots of a pipeline that are built from registries.
 *
 * @example
 * ```ts
 * import { type PartKind, registered } from "@lossforge/core";
 * const kinds: PartKind[] = ["model", "optimizer", "data"];
 * for (const kind of kinds) console.log(kind, registered(kind).join(", "));
 * // model gpt, llama
 * // optimizer adam, adamw, sgd
 * // data gsm8k, gsm8kSynthetic, inline
 * ```
 */
export type PartKind = "model" | "loss" | "optimizer" | "schedule" | "data" | "eval";

/**
 * The part type of each {@linkcode PartKind}: the library's own interfaces for models,
 * losses, optimizers and schedules.
 *
 * @example
 * ```ts
 * import { adamw, buildPart, type PartOf } from "@lossforge/core";
 * // What buildPart("optimizer", ...) returns, and what a pipeline's optimizer may be.
 * const opt: PartOf["optimizer"] = buildPart("optimizer", { kind: "adamw", options: { lr: 0.1 } });
 * const same: PartOf["optimizer"] = adamw({ lr: 0.1 });
 * ```
 */
export interface PartOf {
  /** A model. */
  model: Module<ParamTree>;
  /** A loss. */
  loss: LossFn;
  /** An optimizer. */
  optimizer: Optimizer;
  /** A learning-rate schedule. */
  schedule: Schedule;
  /** A data source. */
  data: DataSource;
  /** An evaluator. */
  eval: Evaluator;
}

/**
 * Builds nested parts from their specs: `combine`'s factory resolves its terms with it.
 *
 * @example
 * ```ts
 * import { buildPart, register, type Resolver } from "@lossforge/core";
 * // A loss that halves another one given by its spec: `resolve` builds the inner part.
 * register("loss", "half", (o, resolve: Resolver) => {
 *   const inner = resolve("loss", String(o.of ?? "ce"));
 *   return (logits, targets, opts) => inner(logits, targets, opts).mul(0.5);
 * });
 * console.log(buildPart("loss", { kind: "half", options: { of: "focal" } }).spec);
 * // { kind: "half", options: { of: "focal" } }
 * ```
 */
export type Resolver = <K extends PartKind>(kind: K, spec: PartSpec | string) => PartOf[K];

/**
 * The options of a part as a config file holds them.
 *
 * @example
 * ```ts
 * import { buildPart, type JsonOptions } from "@lossforge/core";
 * // Options as a config file holds them, checked by the registry before the factory runs.
 * const options: JsonOptions = JSON.parse('{ "lr": 3e-4, "betas": [0.9, 0.95] }');
 * const opt = buildPart("optimizer", { kind: "adamw", options });
 * console.log(opt.spec); // { kind: "adamw", options: { lr: 0.0003, betas: [0.9, 0.95] } }
 * ```
 */
export type JsonOptions = { [key: string]: Json };

/**
 * A factory: options in, part out. `O` is the options type the factory reads (JSON by
 * default); the registry passes the spec's options once `validate` and the shared range rules
 * accepted them, so a factory may declare the library's own options type
 * (`Factory<Optimizer, AdamOptions>`).
 *
 * @example
 * ```ts
 * import { buildPart, constant, type Factory, register, type Schedule } from "@lossforge/core";
 * const flat: Factory<Schedule, { lr: number }> = (o) => constant(o.lr);
 * register("schedule", "flat", flat);
 * console.log(buildPart("schedule", { kind: "flat", options: { lr: 0.1 } })(5)); // 0.1
 * ```
 */
export type Factory<T, O = JsonOptions> = (options: O, resolve: Resolver) => T;

/**
 * A problem found in a part's options; `path` is relative to the options object.
 *
 * @example
 * ```ts
 * import { checkPartSpec, type OptionProblem } from "@lossforge/core";
 * const [p]: OptionProblem[] = checkPartSpec("optimizer", { kind: "nope" });
 * console.log(`${p.path}: ${p.message}`);
 * // kind: unknown optimizer "nope" (known: adam, adamw, sgd)
 * ```
 */
export interface OptionProblem {
  /** Dotted path inside the options (`"betas.1"`), or `""` for the options as a whole. */
  path: string;
  /** What is wrong, with the offending value. */
  message: string;
}

/**
 * Extra information about a registered factory.
 *
 * @example
 * ```ts
 * import { checkPartSpec, constant, register, type RegisterOptions } from "@lossforge/core";
 * const options: RegisterOptions = {
 *   validate: (o) => typeof o.lr === "number" ? [] : [{ path: "lr", message: "required" }],
 * };
 * register("schedule", "flat", (o: { lr: number }) => constant(o.lr), options);
 * console.log(checkPartSpec("schedule", { kind: "flat" }));
 * // [{ path: "options.lr", message: "required" }]
 * ```
 */
export interface RegisterOptions {
  /** Checks options before the factory runs, so every problem is reported at once. */
  validate?: (options: JsonOptions) => OptionProblem[];
}

/** What the registry stores: the factory behind a builder that takes any options object. */
interface Entry {
  build: (options: { readonly [key: string]: unknown }, resolve: Resolver) => unknown;
  validate?: (options: JsonOptions) => OptionProblem[];
}

/** A fresh empty map per kind of part. */
function perKind<V>(): Record<PartKind, Map<string, V>> {
  return {
    model: new Map(),
    loss: new Map(),
    optimizer: new Map(),
    schedule: new Map(),
    data: new Map(),
    eval: new Map(),
  };
}

const registries = perKind<Entry>();

/** Other names of registered kinds: alias → name. */
const aliases = perKind<string>();

/** The registered name `name` stands for (itself unless it is an alias). */
function canonical(kind: PartKind, name: string): string {
  return aliases[kind].get(name) ?? name;
}

/**
 * Registers `factory` under `name` for slot `kind` (a later registration replaces it).
 *
 * @example
 * ```ts
 * import { buildPart, register } from "@lossforge/core";
 * register("schedule", "flat", (o) => () => Number(o.lr ?? 1e-3));
 * const s = buildPart("schedule", { kind: "flat", options: { lr: 0.1 } });
 * console.log(s(3), s.spec); // 0.1 { kind: "flat", options: { lr: 0.1 } }
 * ```
 */
export function register<K extends PartKind, O = JsonOptions>(
  kind: K,
  name: string,
  factory: Factory<PartOf[K], O>,
  options: RegisterOptions = {},
): void {
  if (typeof name !== "string" || name.length === 0) {
    throw new TypeError(`register(${kind}): name must be a non-empty string`);
  }
  // The options reach the factory only after `validate` and the range rules accepted them.
  const build: Entry["build"] = (o, resolve) => factory(o as O, resolve);
  aliases[kind].delete(name);
  registries[kind].set(name, { build, validate: options.validate });
}

/**
 * Makes `alias` another name of the registered kind `name`: specs naming `alias` build the
 * same part, stamped with `name` (so `toJSON` writes the current name). Renamed kinds keep
 * their old names this way.
 *
 * @example
 * ```ts
 * import { buildPart, registerAlias } from "@lossforge/core";
 * registerAlias("loss", "cross-entropy", "ce");
 * console.log(buildPart("loss", "cross-entropy").spec.kind); // "ce"
 * ```
 */
export function registerAlias(kind: PartKind, alias: string, name: string): void {
  if (!registries[kind].has(name)) {
    throw new TypeError(`registerAlias(${kind}): ${JSON.stringify(name)} is not registered`);
  }
  aliases[kind].set(alias, canonical(kind, name));
}

/**
 * Whether `name` (a kind or one of its aliases) is registered for `kind`.
 *
 * @example
 * ```ts
 * import { isRegistered } from "@lossforge/core";
 * console.log(isRegistered("data", "gsm8k-synthetic")); // true: an alias of gsm8kSynthetic
 * ```
 */
export function isRegistered(kind: PartKind, name: string): boolean {
  return registries[kind].has(canonical(kind, name));
}

/**
 * `register` for one kind of part, typed for that kind (what `registerModel`,
 * `registerLoss`, ... are).
 *
 * @example
 * ```ts
 * import type { Registrar } from "./registry.ts";
 * const f: Registrar<"schedule"> = (name, factory) => console.log(name, typeof factory);
 * f("flat", () => () => 1e-3);
 * ```
 */
export type Registrar<K extends PartKind> = <O = JsonOptions>(
  name: string,
  factory: Factory<PartOf[K], O>,
  options?: RegisterOptions,
) => void;

function registrarOf<K extends PartKind>(kind: K): Registrar<K> {
  return (name, factory, options) => register(kind, name, factory, options);
}

/**
 * Registers a model factory, e.g. `registerModel("gpt", (o: GptConfig) => gpt(o))`.
 *
 * @example
 * ```ts
 * import { embedding, randn, registerModel, type Tensor } from "@lossforge/core";
 * registerModel<{ vocab: number }>("bigram", (o) => ({
 *   init: () => ({ t: randn([o.vocab, o.vocab]) }),
 *   apply: (p: { t: Tensor }, ids) => embedding(p.t, ids),
 * }));
 * ```
 */
export const registerModel: Registrar<"model"> = registrarOf("model");

/**
 * Registers a loss factory, e.g. `registerLoss("ce", (o) => crossEntropy(o))`.
 *
 * @example
 * ```ts
 * import { registerLoss } from "@lossforge/core";
 * registerLoss("zero", () => (logits) => logits.mul(0).sum());
 * ```
 */
export const registerLoss: Registrar<"loss"> = registrarOf("loss");

/**
 * Registers an optimizer factory, e.g. `registerOptimizer("adamw", (o: AdamOptions) => adamw(o))`.
 * With a pipeline `schedule`, the factory receives the schedule as `lr`.
 *
 * @example
 * ```ts
 * import { registerOptimizer, sgd, type SgdOptions } from "@lossforge/core";
 * registerOptimizer<SgdOptions>("nesterov", (o) => sgd({ ...o, momentum: 0.9, nesterov: true }));
 * ```
 */
export const registerOptimizer: Registrar<"optimizer"> = registrarOf("optimizer");

/**
 * Registers a learning-rate schedule factory.
 *
 * @example
 * ```ts
 * import { registerSchedule } from "@lossforge/core";
 * registerSchedule("step-decay", (o) => (s) => Number(o.lr) * 0.5 ** Math.floor(s / 100));
 * ```
 */
export const registerSchedule: Registrar<"schedule"> = registrarOf("schedule");

/**
 * Registers a data-source factory.
 *
 * @example
 * ```ts
 * import { byteTokenizer, registerDataset } from "@lossforge/core";
 * registerDataset("empty", () => ({
 *   name: "empty",
 *   tokenizer: byteTokenizer(),
 *   maxLength: 8,
 *   load: () => Promise.resolve({ train: [], eval: [] }),
 * }));
 * ```
 */
export const registerDataset: Registrar<"data"> = registrarOf("data");

/**
 * Registers an evaluator factory.
 *
 * @example
 * ```ts
 * import { registerEvaluator } from "@lossforge/core";
 * registerEvaluator("count", () => ({
 *   name: "count",
 *   run: (_m, _p, _d, o) => Promise.resolve({ count: o.examples.length }),
 * }));
 * ```
 */
export const registerEvaluator: Registrar<"eval"> = registrarOf("eval");

/**
 * The names registered for `kind`, sorted (error messages list them); aliases are not listed.
 *
 * @example
 * ```ts
 * import { registered } from "@lossforge/core";
 * console.log(registered("data")); // ["gsm8k", "gsm8kSynthetic", "inline", "task"]
 * ```
 */
export function registered(kind: PartKind): string[] {
  return [...registries[kind].keys()].sort();
}

/**
 * Normalises a spec: a bare string `"ce"` means `{ kind: "ce" }`.
 *
 * @example
 * ```ts
 * import { toPartSpec } from "@lossforge/core";
 * console.log(toPartSpec("ce")); // { kind: "ce", options: {} }
 * ```
 */
export function toPartSpec(spec: PartSpec | string): PartSpec {
  return typeof spec === "string"
    ? { kind: spec, options: {} }
    : { kind: spec.kind, options: spec.options ?? {} };
}

/**
 * Problems with a spec for `kind` (unknown name, bad options), paths relative to the
 * spec. Empty when the factory can be called.
 *
 * @example
 * ```ts
 * import { checkPartSpec } from "@lossforge/core";
 * console.log(checkPartSpec("optimizer", { kind: "nope" })[0].message);
 * // 'unknown optimizer "nope" (known: adam, adamw, sgd)'
 * console.log(checkPartSpec("optimizer", { kind: "adamw", options: { lr: 3e-4 } })); // []
 * ```
 */
export function checkPartSpec(kind: PartKind, spec: unknown): OptionProblem[] {
  if (typeof spec === "string") spec = { kind: spec };
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) {
    return [{ path: "", message: `must be a ${kind} or a { kind, options } spec` }];
  }
  const s = spec as { kind?: unknown; options?: unknown };
  if (typeof s.kind !== "string") {
    return [{ path: "kind", message: `must be a string, got ${show(s.kind)}` }];
  }
  const entry = registries[kind].get(canonical(kind, s.kind));
  if (!entry) {
    const known = registered(kind);
    return [{
      path: "kind",
      message: `unknown ${kind} ${JSON.stringify(s.kind)} (known: ${
        known.length ? known.join(", ") : "none registered"
      })`,
    }];
  }
  if (s.options !== undefined && (s.options === null || typeof s.options !== "object")) {
    return [{ path: "options", message: `must be an object, got ${show(s.options)}` }];
  }
  const opts = (s.options ?? {}) as JsonOptions;
  return (entry.validate?.(opts) ?? []).map((p) => ({
    path: p.path ? `options.${p.path}` : "options",
    message: p.message,
  }));
}

/**
 * Builds a part from its spec through the registry and stamps it with that spec.
 *
 * @example
 * ```ts
 * import { buildPart, registerSchedule } from "@lossforge/core";
 * registerSchedule("flat", (o) => () => Number(o.lr));
 * const s = buildPart("schedule", { kind: "flat", options: { lr: 0.1 } });
 * console.log(s(3), s.spec); // 0.1 { kind: "flat", options: { lr: 0.1 } }
 * ```
 */
export function buildPart<K extends PartKind>(
  kind: K,
  spec: PartSpec | string,
): PartOf[K] & { readonly spec: PartSpec } {
  const problems = checkPartSpec(kind, spec);
  if (problems.length) {
    throw new TypeError(
      problems.map((p) => `${kind}${p.path ? "." + p.path : ""}: ${p.message}`).join("\n"),
    );
  }
  const given = toPartSpec(spec);
  const s = { ...given, kind: canonical(kind, given.kind) };
  const entry = registries[kind].get(s.kind)!;
  const part = entry.build(s.options ?? {}, buildPart) as PartOf[K];
  return describe(part, s);
}

/**
 * The optimizer `optimizer`'s spec builds, with `schedule` as its learning rate (the library's
 * optimizers take a `LearningRate`, a number or a schedule): how a pipeline's `schedule`
 * reaches its optimizer. The result carries the optimizer's own spec.
 *
 * @example
 * ```ts
 * import { buildPart, cosine } from "@lossforge/core";
 * import { scheduledOptimizer } from "./registry.ts";
 * const opt = buildPart("optimizer", { kind: "adamw", options: { lr: 3e-4 } });
 * const scheduled = scheduledOptimizer(opt, cosine({ peak: 3e-4, steps: 100 }));
 * console.log(scheduled.spec.kind); // "adamw"
 * ```
 */
export function scheduledOptimizer(
  optimizer: Optimizer,
  schedule: Schedule,
): Optimizer & { readonly spec: PartSpec } {
  const spec = specOf(optimizer);
  const entry = spec && registries.optimizer.get(canonical("optimizer", spec.kind));
  if (!spec || !entry) {
    throw new TypeError(
      "schedule: the optimizer cannot change its learning rate: build it from a registered spec",
    );
  }
  const s = toPartSpec(spec);
  const part = entry.build({ ...s.options, lr: schedule }, buildPart) as Optimizer;
  return describe(part, s);
}

/**
 * The spec a part carries (set by `buildPart` or `describe`), if any.
 *
 * @example
 * ```ts
 * import { buildPart, specOf } from "@lossforge/core";
 * console.log(specOf(buildPart("loss", "focal"))); // { kind: "focal", options: {} }
 * ```
 */
export function specOf(part: unknown): PartSpec | undefined {
  if (part === null || (typeof part !== "object" && typeof part !== "function")) return undefined;
  return (part as Described).spec;
}

/**
 * Attaches a spec to a part so it can be written to JSON. A part that already has an own
 * `spec` keeps it only when `spec` is omitted. Functions and frozen objects are wrapped;
 * other objects get a non-enumerable `spec` property (spreads and JSON do not see it).
 *
 * @example
 * ```ts
 * import { describe, type Tensor } from "@lossforge/core";
 * const loss = describe((logits: Tensor) => logits.sum(), { kind: "sum" });
 * console.log(loss.spec?.kind); // "sum"
 * ```
 */
export function describe<T extends object>(
  part: T,
  spec: PartSpec,
): T & { readonly spec: PartSpec } {
  const frozen = deepFreeze(structuredClone(spec));
  if (typeof part === "function") {
    const wrapped = function (this: unknown, ...args: unknown[]): unknown {
      return Reflect.apply(part, this, args);
    };
    for (const key of Object.keys(part)) Reflect.set(wrapped, key, Reflect.get(part, key));
    Object.defineProperty(wrapped, "spec", { value: frozen, enumerable: false });
    return wrapped as T & { spec: PartSpec };
  }
  if (Object.isExtensible(part) && !Object.getOwnPropertyDescriptor(part, "spec")) {
    Object.defineProperty(part, "spec", { value: frozen, enumerable: false, configurable: true });
    return part as T & { spec: PartSpec };
  }
  const props = Object.getOwnPropertyDescriptors(part) as Record<string, PropertyDescriptor>;
  delete props.spec;
  const copy = Object.create(Object.getPrototypeOf(part), props);
  Object.defineProperty(copy, "spec", { value: frozen, enumerable: false, configurable: true });
  return copy as T & { spec: PartSpec };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Checking a pipeline spec: collects every problem with its path before failing once, so a
 * user fixing a config file sees all of its mistakes in one run.
 *
 * @module
 */

import { PipelineError, type Problem } from "./errors.ts";
import {
  buildPart,
  checkPartSpec,
  isRegistered,
  type PartKind,
  type PartOf,
  registered,
  specOf,
} from "./registry.ts";
import { optionProblems } from "./rules.ts";
import { show } from "../../util/show.ts";
import type { Json, NonFinitePolicy, PartSpec, Pipeline, PipelineSpec } from "./types.ts";

const FIELDS = [
  "name",
  "model",
  "loss",
  "optimizer",
  "schedule",
  "data",
  "eval",
  "steps",
  "epochs",
  "batchSize",
  "gradAccum",
  "clip",
  "seed",
  "logEvery",
  "evalEvery",
  "checkpoint",
  "onNonFinite",
];

/** The methods that make a live part of each kind (a missing one is reported). */
const SHAPE: Record<PartKind, { callable?: boolean; methods: string[] }> = {
  model: { methods: ["init", "apply"] },
  loss: { callable: true, methods: [] },
  optimizer: { methods: ["init", "update"] },
  schedule: { callable: true, methods: [] },
  data: { methods: ["load"] },
  eval: { methods: ["run"] },
};

/**
 * A plain `{ kind, options }` object (or a bare name), as opposed to a live part.
 *
 * @example
 * ```ts
 * import { isPartSpec } from "./validate.ts";
 * console.log(isPartSpec({ kind: "ce" }), isPartSpec(() => 0)); // true false
 * ```
 */
export function isPartSpec(value: unknown): value is PartSpec | string {
  if (typeof value === "string") return true;
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  const v = value as Record<string, unknown>;
  return "kind" in v && Object.values(v).every((x) => typeof x !== "function");
}

/**
 * Validates `spec`, builds its parts and fills defaults; throws one `PipelineError`
 * listing every problem.
 *
 * @example
 * ```ts
 * import { validatePipeline } from "./validate.ts";
 * const spec = '{ "model": {}, "loss": "ce", "optimizer": {}, "data": {}, "steps": 0 }';
 * try {
 *   validatePipeline(JSON.parse(spec));
 * } catch (e) {
 *   console.log((e as Error).message);
 * }
 * ```
 */
export function validatePipeline(spec: PipelineSpec): Pipeline {
  const problems: Problem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) {
    throw new PipelineError([{ path: "", message: `must be an object, got ${show(spec)}` }]);
  }
  const s: Record<string, unknown> = { ...spec };
  for (const key of Object.keys(s)) {
    if (!FIELDS.includes(key)) add(key, `unknown field (known: ${FIELDS.join(", ")})`);
  }

  const part = <K extends PartKind>(kind: K, field: string, required: boolean) =>
    checkPart(kind, field, s[field], required, add);
  const model = part("model", "model", true);
  const loss = part("loss", "loss", true);
  const optimizer = part("optimizer", "optimizer", true);
  const schedule = part("schedule", "schedule", false);
  const data = part("data", "data", true);
  const evaluator = part("eval", "eval", false);

  const name = s.name ?? "run";
  if (typeof name !== "string" || name.length === 0) {
    add("name", `must be a non-empty string, got ${show(name)}`);
  }
  if (s.steps === undefined && s.epochs === undefined) {
    add("steps", "give steps or epochs");
  } else if (s.steps !== undefined && s.epochs !== undefined) {
    add("epochs", "give steps or epochs, not both");
  }
  intField(s, "steps", 1, undefined, add);
  if (s.epochs !== undefined && !(isNum(s.epochs) && s.epochs > 0)) {
    add("epochs", `must be > 0, got ${show(s.epochs)}`);
  }
  const batchSize = intField(s, "batchSize", 1, 8, add);
  const gradAccum = intField(s, "gradAccum", 1, 1, add);
  if (s.clip !== undefined && !(isNum(s.clip) && s.clip > 0)) {
    add("clip", `must be > 0, got ${show(s.clip)}`);
  }
  const seed = s.seed ?? 42;
  if (!Number.isSafeInteger(seed)) add("seed", `must be an integer, got ${show(seed)}`);
  const logEvery = intField(s, "logEvery", 1, 10, add);
  const evalEvery = intField(s, "evalEvery", 0, 0, add);
  if ((s.evalEvery as number) > 0 && s.eval === undefined) {
    add("evalEvery", `is ${s.evalEvery} but the pipeline has no eval`);
  }
  const onNonFinite = (s.onNonFinite ?? "stop") as NonFinitePolicy;
  if (onNonFinite !== "stop" && onNonFinite !== "skip") {
    add("onNonFinite", `must be "stop" or "skip", got ${show(s.onNonFinite)}`);
  }
  const checkpoint = checkCheckpoint(s.checkpoint, add);

  // Cross-part rules: only meaningful once both parts are known to be sound.
  if (model && data) checkVocab(model, data, isPartSpec(s.model), add);
  if (schedule && optimizer && !rebuildable(specOf(optimizer))) {
    add(
      "schedule",
      "the optimizer cannot change its learning rate: build it from a registered spec " +
        `(registered optimizers: ${registered("optimizer").join(", ") || "none"}), ` +
        "or give it the schedule itself (adamw({ lr: schedule }))",
    );
  }

  if (problems.length) throw new PipelineError(problems);
  const out: Pipeline = {
    name: name as string,
    model: model!,
    loss: loss!,
    optimizer: optimizer!,
    ...(schedule ? { schedule } : {}),
    data: data!,
    ...(evaluator ? { eval: evaluator } : {}),
    ...(s.steps !== undefined ? { steps: s.steps as number } : { epochs: s.epochs as number }),
    batchSize,
    gradAccum,
    ...(s.clip !== undefined ? { clip: s.clip as number } : {}),
    seed: seed as number,
    logEvery,
    evalEvery,
    ...(checkpoint ? { checkpoint } : {}),
    onNonFinite,
  };
  return Object.freeze(out);
}

function isNum(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

function intField(
  s: Record<string, unknown>,
  field: string,
  min: number,
  fallback: number | undefined,
  add: (path: string, message: string) => void,
): number {
  const v = s[field] ?? fallback;
  if (v === undefined) return 0;
  if (!Number.isInteger(v) || (v as number) < min) {
    add(field, `must be an integer >= ${min}, got ${show(s[field])}`);
    return fallback ?? 0;
  }
  return v as number;
}

function checkPart<K extends PartKind>(
  kind: K,
  field: string,
  value: unknown,
  required: boolean,
  add: (path: string, message: string) => void,
): PartOf[K] | undefined {
  if (value === undefined || value === null) {
    if (required) add(field, `is required`);
    return undefined;
  }
  if (isPartSpec(value)) {
    const found = checkPartSpec(kind, value);
    const opts = typeof value === "string" ? {} : value.options ?? {};
    if (!found.length && typeof opts === "object") {
      for (const p of optionProblems(kind, opts)) found.push({ ...p, path: `options.${p.path}` });
    }
    for (const p of found) add(`${field}.${p.path}`, p.message);
    if (found.length) return undefined;
    try {
      return buildPart(kind, value);
    } catch (e) {
      add(field, `${kind} factory ${show(toKind(value))} failed: ${(e as Error).message}`);
      return undefined;
    }
  }
  const shape = SHAPE[kind];
  const callable = typeof value === "function";
  if (shape.callable ? !callable : typeof value !== "object") {
    add(
      field,
      `must be a ${kind}${shape.callable ? " function" : ""} or a { kind, options } spec, got ${
        show(value)
      }`,
    );
    return undefined;
  }
  const missing = shape.methods.filter((m) =>
    typeof (value as Record<string, unknown>)[m] !== "function"
  );
  if (missing.length) {
    add(field, `is not a ${kind}: missing ${missing.map((m) => `${m}()`).join(", ")}`);
    return undefined;
  }
  // A live part still gets its options checked, from its spec and its own fields.
  const v = value as { spec?: PartSpec; lr?: unknown };
  const opts: { [key: string]: Json } = { ...(v.spec?.options ?? {}) };
  if (kind === "optimizer" && v.lr !== undefined && opts.lr === undefined) opts.lr = v.lr as Json;
  const found = optionProblems(kind, opts);
  for (const p of found) add(`${field}.${p.path}`, p.message);
  return found.length ? undefined : value as PartOf[K];
}

function toKind(spec: PartSpec | string): string {
  return typeof spec === "string" ? spec : spec.kind;
}

function checkCheckpoint(
  value: unknown,
  add: (path: string, message: string) => void,
): Pipeline["checkpoint"] {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    add("checkpoint", `must be { dir, every, keep? }, got ${show(value)}`);
    return undefined;
  }
  const c = value as Record<string, unknown>;
  let ok = true;
  for (const key of Object.keys(c)) {
    if (!["dir", "every", "keep"].includes(key)) {
      add(`checkpoint.${key}`, "unknown field (known: dir, every, keep)");
      ok = false;
    }
  }
  if (typeof c.dir !== "string" || c.dir.length === 0) {
    add("checkpoint.dir", `must be a non-empty string, got ${show(c.dir)}`);
    ok = false;
  }
  if (!Number.isInteger(c.every) || (c.every as number) < 1) {
    add("checkpoint.every", `must be an integer >= 1, got ${show(c.every)}`);
    ok = false;
  }
  if (c.keep !== undefined && (!Number.isInteger(c.keep) || (c.keep as number) < 1)) {
    add("checkpoint.keep", `must be an integer >= 1, got ${show(c.keep)}`);
    ok = false;
  }
  return ok
    ? Object.freeze({
      dir: c.dir as string,
      every: c.every as number,
      keep: (c.keep ?? 3) as number,
    })
    : undefined;
}

function checkVocab(
  model: PartOf["model"],
  data: PartOf["data"],
  fromSpec: boolean,
  add: (path: string, message: string) => void,
): void {
  const vocab = specOf(model)?.options?.vocab ?? (model as { vocab?: unknown }).vocab;
  const need = data.tokenizer?.vocabSize;
  if (typeof vocab === "number" && typeof need === "number" && vocab < need) {
    const path = fromSpec ? "model.options.vocab" : "model.vocab";
    add(path, `is ${vocab}, smaller than the data tokenizer's vocabulary (${need})`);
  }
}

function rebuildable(spec: PartSpec | undefined): boolean {
  return spec !== undefined && isRegistered("optimizer", spec.kind);
}

/**
 * A plan's variants trained here rather than on a cluster: read back from the plan's files
 * (the same pipeline JSON an array task or pod gets) and trained by the sweep's own machinery,
 * side by side in workers, keeping what finished before; then merged. Also the sweep config
 * file that `deno task train --plan DIR config.json` writes a plan from.
 *
 * @module
 */

import { resolve } from "node:path";
import { writeFileAtomic } from "../../util/atomic.ts";
import { isObject, show } from "../../util/show.ts";
import { PipelineError, RunFolderError } from "../spec/errors.ts";
import { pipelineFromJSON, type PipelineJSON } from "../spec/json.ts";
import { type Pipeline, pipeline } from "../spec/pipeline.ts";
import type { Json } from "../spec/types.ts";
import type { StopSignal } from "../run/stop_signals.ts";
import { type MergeResult, mergeResults } from "./merge.ts";
import {
  planJson,
  type PlannedVariant,
  type PlanOptions,
  readPlan,
  type SweepPlan,
} from "./plan.ts";
import {
  moduleUrl,
  sweep,
  type SweepAxes,
  type SweepOptions,
  sweepVariants,
  type Variant,
} from "./sweep.ts";

/**
 * A sweep as a file, for `deno task train --plan DIR config.json`: the base pipeline (as
 * `toJSON` writes it), the axes (lists of values, or objects from labels to values, as
 * `sweep` takes them; values are part specs, names or seeds) and the plan's options.
 *
 * @example
 * ```ts
 * import type { SweepConfig } from "@lossforge/core";
 * const config: SweepConfig = {
 *   pipeline: {
 *     name: "grid",
 *     model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *     loss: { kind: "ce" },
 *     optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *     data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *     steps: 4,
 *     batchSize: 8,
 *     gradAccum: 1,
 *     seed: 42,
 *     logEvery: 1,
 *     evalEvery: 0,
 *     onNonFinite: "stop",
 *   },
 *   axes: { loss: ["ce", "focal", "dice"], seed: [1, 2] },
 *   parallelism: 3,
 *   report: { style: "summary" },
 * };
 * await Deno.writeTextFile("grid.json", JSON.stringify(config, null, 2));
 * // deno task train --plan runs/grid grid.json
 * ```
 */
export interface SweepConfig extends Omit<PlanOptions, "plan" | "label" | "folder" | "imports"> {
  /** The base pipeline. */
  pipeline: PipelineJSON;
  /** The axes: `loss`, `seed`, `model`, `optimizer`. */
  axes: { [axis in keyof SweepAxes]?: readonly Json[] | { [label: string]: Json } };
  /** Modules to import first (paths from the project's root, or URLs). */
  imports?: string[];
}

const CONFIG_FIELDS = [
  "pipeline",
  "axes",
  "out",
  "name",
  "parallelism",
  "retries",
  "imports",
  "report",
  "slurm",
  "kubernetes",
];
const AXES = ["loss", "seed", "model", "optimizer"];

/**
 * Writes the plan a sweep config describes into `dir` (see {@linkcode SweepConfig}). Its
 * `imports` are imported first, so that its parts can be built. A config that is not one
 * throws `PipelineError` naming the field.
 *
 * @example
 * ```ts
 * import { planFromConfig } from "@lossforge/core";
 * const plan = await planFromConfig("runs/grid", await Deno.readTextFile("grid.json"));
 * console.log(`${plan.variants.length} variants; sbatch ${plan.files.slurm}`);
 * ```
 */
export async function planFromConfig(
  dir: string,
  config: string | SweepConfig,
): Promise<SweepPlan> {
  let value: unknown = config;
  if (typeof config === "string") {
    try {
      value = JSON.parse(config);
    } catch (e) {
      throw new PipelineError([{ path: "", message: `not valid JSON: ${(e as Error).message}` }]);
    }
  }
  const bad = (path: string, message: string) => new PipelineError([{ path, message }]);
  if (!isObject(value)) throw bad("", `a sweep config is an object, got ${show(value)}`);
  for (const k of Object.keys(value)) {
    if (!CONFIG_FIELDS.includes(k)) {
      throw bad(k, `unknown field (known: ${CONFIG_FIELDS.join(", ")})`);
    }
  }
  if (!isObject(value.pipeline)) {
    throw bad("pipeline", `expected toJSON's object, got ${show(value.pipeline)}`);
  }
  if (!isObject(value.axes)) {
    throw bad("axes", `expected { loss: [...], ... }, got ${show(value.axes)}`);
  }
  for (const [k, axis] of Object.entries(value.axes)) {
    if (!AXES.includes(k)) throw bad(`axes.${k}`, `unknown axis (known: ${AXES.join(", ")})`);
    if (!Array.isArray(axis) && !isObject(axis)) {
      throw bad(`axes.${k}`, `expected a list or an object of labelled values, got ${show(axis)}`);
    }
  }
  const c = value as unknown as SweepConfig;
  await importModules(c.imports ?? []);
  const base = pipelineFromJSON(c.pipeline);
  const { pipeline: _p, axes, ...options } = c;
  return await sweep(base, axes as SweepAxes, { ...options, plan: dir });
}

/**
 * Options of {@linkcode runPlan}.
 *
 * @example
 * ```ts
 * import { runPlan, type RunPlanOptions } from "@lossforge/core";
 * const options: RunPlanOptions = { workers: 2, out: "runs/grid-here" };
 * await runPlan("runs/grid", options);
 * ```
 */
export interface RunPlanOptions
  extends Pick<SweepOptions, "progress" | "progressWrite" | "signal" | "handleSignals"> {
  /** The output root (default: the plan's). */
  out?: string;
  /** Variants trained side by side, each in a worker (default 1). */
  workers?: number;
}

/**
 * How a local run of a plan ended: the merge of its output root, and whether a signal
 * stopped it first.
 *
 * @example
 * ```ts
 * import { runPlan } from "@lossforge/core";
 * const r = await runPlan("runs/grid", { workers: 2 });
 * console.log(r.stopped, r.table.rows.length, r.missing.length);
 * ```
 */
export interface RunPlanResult extends MergeResult {
  /** `"interrupted"` when a signal stopped it before every variant finished. */
  stopped: "completed" | "interrupted";
  /** The signal, when one did. */
  signal?: StopSignal;
}

/**
 * Trains the plan in `dir` here, `workers` variants at a time, into its output root (the
 * plan's, or `out`): finished variants (their result.json) are kept, stopped ones continue
 * from their checkpoints, and the output root is merged at the end (`mergeResults`). Each
 * variant is built from its own file, as a cluster's job builds it.
 *
 * @example
 * ```ts
 * import { runPlan } from "@lossforge/core";
 * const r = await runPlan("runs/grid", { workers: 2 });
 * if (r.missing.length) console.log("not finished:", r.missing.map((v) => v.label));
 * ```
 */
export async function runPlan(dir: string, options: RunPlanOptions = {}): Promise<RunPlanResult> {
  const plan = await readPlan(dir);
  if (!plan) {
    throw new RunFolderError(`${dir}: no plan.json (write one with --plan DIR config.json)`, dir);
  }
  await importModules(plan.imports);
  const out = (options.out ?? plan.out).replace(/[\\/]+$/, "") || ".";
  const variants: Variant[] = [];
  for (const v of plan.variants) variants.push(await loadVariant(plan, v, `${out}/${v.folder}`));
  await Deno.mkdir(out, { recursive: true });
  if (resolve(out) !== resolve(plan.dir)) {
    await writeFileAtomic(`${out}/plan.json`, planJson(plan));
  }
  const table = await sweepVariants(variants, plan.axes, {
    out,
    workers: options.workers ?? 1,
    resume: true,
    imports: plan.imports,
    report: plan.report,
    progress: options.progress,
    progressWrite: options.progressWrite,
    signal: options.signal,
    handleSignals: options.handleSignals,
  });
  const merged = await mergeResults([out], { report: plan.report === false ? false : undefined });
  return {
    ...merged,
    stopped: table.stopped ?? "completed",
    ...(table.signal ? { signal: table.signal } : {}),
  };
}

/**
 * A planned variant from its file, to train in `dir`: its checkpoints go to `dir/checkpoints`
 * (as a sweep keeps them), wherever the plan was written for.
 *
 * @example
 * ```ts
 * import { readPlan } from "./plan.ts";
 * import { loadVariant } from "./plan_run.ts";
 * const plan = await readPlan("runs/grid");
 * if (plan) {
 *   const v = await loadVariant(plan, plan.variants[0], "/scratch/grid/v0");
 *   console.log(v.p.name, v.ckptDir); // its label, "/scratch/grid/v0/checkpoints"
 * }
 * ```
 */
export async function loadVariant(
  plan: SweepPlan,
  v: PlannedVariant,
  dir: string,
): Promise<Variant> {
  const path = `${plan.dir}/${v.file}`;
  let p: Pipeline;
  try {
    p = pipelineFromJSON(await Deno.readTextFile(path));
  } catch (e) {
    if (e instanceof PipelineError) {
      throw new PipelineError(e.problems.map((q) => ({ ...q, path: `${path}: ${q.path}` })));
    }
    throw new RunFolderError(`${path}: cannot read: ${(e as Error).message}`, path);
  }
  const ckptDir = `${dir}/checkpoints`;
  if (p.checkpoint) p = pipeline({ ...p, checkpoint: { ...p.checkpoint, dir: ckptDir } });
  return { label: v.label, axisLabels: { ...v.variant }, p, dir, ckptDir };
}

/**
 * Imports modules by URL or by path from the current folder (where parts are registered).
 *
 * @example
 * ```ts
 * import { importModules } from "./plan_run.ts";
 * await importModules(["my_parts.ts", "https://example.com/parts.ts"]);
 * ```
 */
export async function importModules(modules: readonly string[]): Promise<void> {
  for (const m of modules) {
    await import(moduleUrl(m));
  }
}

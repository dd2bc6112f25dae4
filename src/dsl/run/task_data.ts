/**
 * Any of the paper's four tasks (GSM8K, MathQA, OpenBookQA, HellaSwag) as a pipeline's data
 * source: `taskData({ task, path })`, registered as the data kind `task`, so a config can
 * name it (`{ kind: "task", options: { task: "mathqa", path: "data/mathqa" } }`).
 *
 * @module
 */

import { loadTask, type TaskFormat, type TaskName, TASKS } from "../../data/mod.ts";
import { byteTokenizer } from "../../tokenizers/mod.ts";
import { describe, registerDataset } from "../spec/registry.ts";
import type { DataSource, Example, Json } from "../spec/types.ts";
import type { OptionProblem } from "../spec/registry.ts";
import { show } from "../../util/show.ts";

/**
 * Options of {@linkcode taskData}.
 *
 * @example
 * ```ts
 * import { taskData, type TaskDataOptions } from "@lossforge/core";
 * // Train on MathQA's train.json, score on the first 100 of dev.json while training.
 * const options: TaskDataOptions = {
 *   task: "mathqa",
 *   path: "data/mathqa",
 *   evalSplit: "validation",
 *   evalLimit: 100,
 * };
 * console.log(taskData(options).maxLength); // 1024: the paper's length for MathQA
 * ```
 */
export interface TaskDataOptions {
  /** The task. */
  task: TaskName;
  /** The folder (or archive) holding the task's original or parquet files. */
  path: string;
  /** The split evaluators see (default `"validation"`; `"test"` for reported numbers). */
  evalSplit?: "validation" | "test";
  /** Positions per row (default the task's own maximum length, `TASKS[task].maxLength`). */
  maxLength?: number;
  /** Which files to read (default `"auto"`: original when found, else parquet). */
  format?: TaskFormat;
  /** Skip malformed records instead of throwing (default false). */
  skipBad?: boolean;
  /** Train on the first `trainLimit` training examples only (default all). */
  trainLimit?: number;
  /** Give evaluators the first `evalLimit` held-out examples only (default all). */
  evalLimit?: number;
  /** Padding side of training batches (default `"right"`). */
  padSide?: "left" | "right";
}

/**
 * A task's train split and its validation or test split as a data source (kind `task`),
 * formatted as the paper does (`Task.format`), with byte tokens. Examples are `{ prompt,
 * target }`; the metrics' references are the targets (`taskMetrics` reads both shapes).
 *
 * @param options The task, its folder and the splits' limits.
 * @returns The data source.
 *
 * @example
 * ```ts
 * import { taskData } from "@lossforge/core";
 * const data = taskData({ task: "openbookqa", path: "data/openbookqa", evalSplit: "test" });
 * const { train, eval: test } = await data.load();
 * console.log(data.name, train.length, test.length); // "openbookqa" 4957 500
 * ```
 */
export function taskData(options: TaskDataOptions): DataSource {
  const { task, path, evalSplit = "validation", format = "auto", skipBad = false } = options;
  if (!Object.hasOwn(TASKS, task)) {
    throw new RangeError(
      `taskData: task must be one of ${Object.keys(TASKS).join(", ")}, got ${show(task)}`,
    );
  }
  const maxLength = options.maxLength ?? TASKS[task].maxLength;
  const padSide = options.padSide ?? "right";
  const read = async (split: "train" | "validation" | "test", limit?: number) => {
    const data = await loadTask(task, { path, split, format, skipBad });
    const kept = limit === undefined ? data.examples : data.examples.slice(0, limit);
    return kept.map((e): Example => ({ prompt: e.prompt, target: e.target }));
  };
  const source: DataSource = {
    name: task,
    tokenizer: byteTokenizer(),
    maxLength,
    padSide,
    load: async () => ({
      train: await read("train", options.trainLimit),
      eval: await read(evalSplit, options.evalLimit),
    }),
  };
  const spec: { [key: string]: Json } = { task, path, evalSplit, maxLength, format, skipBad };
  if (options.trainLimit !== undefined) spec.trainLimit = options.trainLimit;
  if (options.evalLimit !== undefined) spec.evalLimit = options.evalLimit;
  spec.padSide = padSide;
  return describe(source, { kind: "task", options: spec });
}

function checkTaskData(o: { [key: string]: Json }): OptionProblem[] {
  const out: OptionProblem[] = [];
  if (typeof o.task !== "string" || !Object.hasOwn(TASKS, o.task)) {
    out.push({
      path: "task",
      message: `must be one of ${Object.keys(TASKS).join(", ")}, got ${show(o.task)}`,
    });
  }
  if (typeof o.path !== "string" || o.path === "") {
    out.push({ path: "path", message: `must be a folder path, got ${show(o.path)}` });
  }
  if (o.evalSplit !== undefined && o.evalSplit !== "validation" && o.evalSplit !== "test") {
    out.push({
      path: "evalSplit",
      message: `must be "validation" or "test", got ${show(o.evalSplit)}`,
    });
  }
  for (const k of ["maxLength", "trainLimit", "evalLimit"]) {
    const v = o[k];
    if (v !== undefined && !(typeof v === "number" && Number.isInteger(v) && v >= 1)) {
      out.push({ path: k, message: `must be an integer >= 1, got ${show(v)}` });
    }
  }
  return out;
}

registerDataset("task", (o: TaskDataOptions) => taskData(o), {
  validate: checkTaskData,
});

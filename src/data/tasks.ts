/**
 * The paper's four tasks by name: loading, downloading and scoring any of them.
 *
 * @module
 */

import { gsm8kTask } from "./gsm8k.ts";
import { mathQaTask } from "./mathqa.ts";
import { openBookQaTask } from "./openbookqa.ts";
import { hellaSwagTask } from "./hellaswag.ts";
import type { DownloadTaskOptions, Task, TaskData, TaskLoadOptions, TaskName } from "./task.ts";
import { mathMetrics } from "./metrics.ts";
import { choiceMetrics } from "./choice_metrics.ts";
import { show } from "../util/show.ts";

/**
 * The task names, in the paper's order.
 *
 * @example
 * ```ts
 * import { TASK_NAMES } from "@lossforge/core";
 * console.log(TASK_NAMES.join(", ")); // "gsm8k, mathqa, openbookqa, hellaswag"
 * ```
 */
export const TASK_NAMES: readonly TaskName[] = Object.freeze([
  "gsm8k",
  "mathqa",
  "openbookqa",
  "hellaswag",
]);

/**
 * Every task by name.
 *
 * @example
 * ```ts
 * import { TASKS } from "@lossforge/core";
 * for (const t of Object.values(TASKS)) console.log(t.name, t.maxLength, t.answerKind);
 * // gsm8k 128 number, mathqa 1024 number, openbookqa 128 letter, hellaswag 256 letter
 * ```
 */
export const TASKS: Readonly<Record<TaskName, Task>> = Object.freeze({
  gsm8k: gsm8kTask as Task,
  mathqa: mathQaTask as Task,
  openbookqa: openBookQaTask as Task,
  hellaswag: hellaSwagTask as Task,
});

/**
 * The task called `name`; an unknown name is a `RangeError` listing the known ones.
 *
 * @example
 * ```ts
 * import { taskByName } from "@lossforge/core";
 * console.log(taskByName("mathqa").maxLength); // 1024
 * ```
 */
export function taskByName(name: string): Task {
  if (!Object.hasOwn(TASKS, name)) {
    throw new RangeError(`unknown task ${show(name)}; known: ${TASK_NAMES.join(", ")}`);
  }
  return TASKS[name as TaskName];
}

/**
 * Loads a split of a task (see {@linkcode Task}'s `load`).
 *
 * @example
 * ```ts
 * import { loadTask } from "@lossforge/core";
 * const data = await loadTask("openbookqa", { path: "data/openbookqa", split: "validation" });
 * console.log(data.format, data.files);
 * // "original" ["data/openbookqa/OpenBookQA-V1-Sep2018.zip!.../Additional/dev_complete.jsonl"]
 * ```
 */
export function loadTask(task: TaskName | Task, options: TaskLoadOptions): Promise<TaskData> {
  return (typeof task === "string" ? taskByName(task) : task).load(options);
}

/**
 * The default cache folder of a task's files:
 * `$LOSSFORGE_CACHE/<task>`, else `$XDG_CACHE_HOME/lossforge/<task>`, else
 * `~/.cache/lossforge/<task>` (`%LOCALAPPDATA%` on Windows).
 *
 * @example
 * ```ts
 * import { taskCacheDir } from "@lossforge/core";
 * console.log(taskCacheDir("hellaswag")); // "/home/me/.cache/lossforge/hellaswag"
 * ```
 */
export function taskCacheDir(task: TaskName): string {
  const env = (k: string) => {
    try {
      return Deno.env.get(k);
    } catch {
      return undefined;
    }
  };
  const own = env("LOSSFORGE_CACHE");
  if (own) return `${own}/${task}`;
  const xdg = env("XDG_CACHE_HOME") ?? env("LOCALAPPDATA");
  if (xdg) return `${xdg}/lossforge/${task}`;
  return `${env("HOME") ?? env("USERPROFILE") ?? "."}/.cache/lossforge/${task}`;
}

/**
 * Fetches a task's original files from their public homes (see the task's `files`, with
 * their URLs and sha256 digests) into `dir` (default {@linkcode taskCacheDir}), verifying
 * each, and returns the folder to pass as `path` to {@linkcode loadTask}. Verified files
 * already there are not fetched again. Offline or on a failed download it throws a
 * one-line `DataError` naming the URL, where else to get the files, and the `--data DIR`
 * flag (the `path` option) that takes them.
 *
 * @param task The task or its name.
 * @param dir The destination folder.
 * @param options Progress callback (e.g. `progressBar()`), `mirror`, `fetch`, `force`.
 * @returns `dir`.
 *
 * @example
 * ```ts
 * import { downloadTask, loadTask, progressBar } from "@lossforge/core";
 * const dir = await downloadTask("openbookqa", undefined, { onProgress: progressBar() });
 * const data = await loadTask("openbookqa", { path: dir, split: "train" });
 * console.log(data.examples.length); // 4957
 * ```
 */
export async function downloadTask(
  task: TaskName | Task,
  dir?: string,
  options: DownloadTaskOptions = {},
): Promise<string> {
  const t = typeof task === "string" ? taskByName(task) : task;
  return await t.download(dir ?? taskCacheDir(t.name), options);
}

/**
 * Mean metrics of a task's predictions: for the math tasks (GSM8K, MathQA) those of
 * `mathMetrics` (exact match and the `<<...>>` step metrics), for the multiple-choice tasks
 * (OpenBookQA, HellaSwag) those of `choiceMetrics` (letter accuracy, ROUGE-1), as a flat
 * record for tables and logs. References are the examples' targets.
 *
 * @example
 * ```ts
 * import { taskMetrics } from "@lossforge/core";
 * console.log(taskMetrics("hellaswag", [{ prediction: "D", reference: "D" }]));
 * // { count: 1, accuracy: 1, rouge1: 1 }
 * ```
 */
export function taskMetrics(
  task: TaskName | Task,
  pairs: Iterable<{ prediction: string; reference: string }>,
): Record<string, number> {
  const t = typeof task === "string" ? taskByName(task) : task;
  return t.answerKind === "number" ? { ...mathMetrics(pairs) } : { ...choiceMetrics(pairs) };
}

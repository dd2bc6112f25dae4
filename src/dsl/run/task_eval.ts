/**
 * Scoring any of the paper's tasks: `taskEval({ task, decode })`, registered as the eval
 * kind `task`. Two ways to read the model's answers, as the paper's code has: `"greedy"`
 * generation after the prompt (the reported test numbers), or `"teacherForced"`, the argmax of
 * the logits over the answer positions of prompt + target in one forward pass (cheap, for
 * validation during training). Either way the metrics are `taskMetrics`' (exact match and the
 * step metrics for GSM8K and MathQA, letter accuracy and ROUGE-1 for OpenBookQA and HellaSwag).
 *
 * @module
 */

import { ensureBackend } from "../../autograd/backend.ts";
import { noGrad, scope, tensor } from "../../autograd/mod.ts";
import {
  exactMatch,
  letterMatch,
  makeBatch,
  taskMetrics,
  type TaskName,
  TASKS,
} from "../../data/mod.ts";
import type { Module, ParamTree } from "../../nn/mod.ts";
import { show } from "../../util/show.ts";
import { generateAnswers, problemResults } from "./evaluate.ts";
import { describe, type OptionProblem, registerEvaluator } from "../spec/registry.ts";
import type { DataSource, Evaluator, Example, Json } from "../spec/types.ts";

/**
 * How {@linkcode taskEval} reads the model's answers: `"greedy"` generation, or
 * `"teacherForced"` (the argmax of one forward pass over prompt + target).
 *
 * @example
 * ```ts
 * import { taskEval, type TaskDecode } from "@lossforge/core";
 * const decode: TaskDecode = "teacherForced";
 * console.log(taskEval({ task: "hellaswag", decode }).name); // "hellaswag (teacher-forced argmax)"
 * ```
 */
export type TaskDecode = "greedy" | "teacherForced";

/**
 * Options of {@linkcode taskEval}.
 *
 * @example
 * ```ts
 * import { taskEval, type TaskEvalOptions } from "@lossforge/core";
 * // The paper's validation during training: at most 100 examples, one forward each.
 * const options: TaskEvalOptions = { task: "gsm8k", decode: "teacherForced", limit: 100 };
 * console.log(taskEval(options).spec?.options?.decode); // "teacherForced"
 * ```
 */
export interface TaskEvalOptions {
  /** The task, which picks the metrics. */
  task: TaskName;
  /** How answers are read (default `"greedy"`). */
  decode?: TaskDecode;
  /** Score only the first `limit` examples (default all). */
  limit?: number;
  /**
   * Greedy decoding: tokens generated per answer at most (default 256 for the math tasks, as
   * the paper's baselines, and 8 for a letter).
   */
  maxNewTokens?: number;
  /** Examples per forward pass (default 16 greedy, 8 teacher-forced). */
  batchSize?: number;
}

/** What a label of the decoding says in tables and logs. */
const DECODE_LABEL: Record<TaskDecode, string> = {
  greedy: "greedy generation",
  teacherForced: "teacher-forced argmax",
};

/**
 * An evaluator of one task: answers read by greedy generation or by the teacher-forced argmax
 * (see {@linkcode TaskDecode}), scored by `taskMetrics` against the examples' targets. Its
 * name says which task and which decoding (`"gsm8k (greedy generation)"`).
 *
 * @param options The task, the decoding and the limits.
 * @returns The evaluator.
 *
 * @example
 * ```ts
 * import { pipeline, taskData, taskEval, train } from "@lossforge/core";
 * const run = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 128, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: taskData({ task: "openbookqa", path: "data/openbookqa" }),
 *   eval: taskEval({ task: "openbookqa", decode: "teacherForced", limit: 100 }),
 *   steps: 20,
 * });
 * console.log((await train(run)).eval); // { count: 100, accuracy: ..., rouge1: ... }
 * ```
 */
export function taskEval(options: TaskEvalOptions): Evaluator {
  const { task, decode = "greedy", limit } = options;
  if (!Object.hasOwn(TASKS, task)) {
    throw new RangeError(
      `taskEval: task must be one of ${Object.keys(TASKS).join(", ")}, got ${show(task)}`,
    );
  }
  if (decode !== "greedy" && decode !== "teacherForced") {
    throw new RangeError(
      `taskEval: decode must be "greedy" or "teacherForced", got ${show(decode)}`,
    );
  }
  const maxNewTokens = options.maxNewTokens ??
    (TASKS[task].answerKind === "number" ? 256 : 8);
  const batchSize = options.batchSize ?? (decode === "greedy" ? 16 : 8);
  const evaluator: Evaluator = {
    name: `${task} (${DECODE_LABEL[decode]})`,
    async run(model, params, data, { examples, signal, onProblems }) {
      await ensureBackend();
      const chosen = limit === undefined ? examples : examples.slice(0, limit);
      if (chosen.length === 0) return { count: 0 };
      const predictions = decode === "greedy"
        ? await generateAnswers(model, params, data.tokenizer, chosen.map((e) => e.prompt), {
          maxNewTokens,
          batchSize,
          signal,
        })
        : await teacherForcedAnswers(model, params, data, chosen, batchSize, signal);
      const pairs = chosen.map((e, i) => ({ prediction: predictions[i], reference: e.target }));
      // The per-problem counterpart of taskMetrics' headline metric.
      const [metric, right] = TASKS[task].answerKind === "number"
        ? ["exactMatch", exactMatch] as const
        : ["accuracy", letterMatch] as const;
      onProblems?.(
        problemResults(metric, chosen, pairs.map((q) => right(q.prediction, q.reference))),
      );
      return taskMetrics(task, pairs);
    },
  };
  const spec: { [key: string]: Json } = { task, decode };
  if (limit !== undefined) spec.limit = limit;
  spec.maxNewTokens = maxNewTokens;
  spec.batchSize = batchSize;
  return describe(evaluator, { kind: "task", options: spec });
}

/**
 * The answer the model gives under teacher forcing: each example's prompt + target in one
 * forward pass (batched, truncated and padded as training batches are), the argmax token at
 * every answer position, decoded up to the first predicted end of sequence.
 *
 * @example
 * ```ts
 * import { byteTokenizer, gpt, inlineData, rng } from "@lossforge/core";
 * import { teacherForcedAnswers } from "./task_eval.ts";
 * const model = gpt({ vocab: 259, context: 16, layers: 1, dim: 16, heads: 2 });
 * const data = inlineData({ train: [{ prompt: "1+1=", target: "2" }], maxLength: 16 });
 * const ex = [{ prompt: "1+1=", target: "2" }];
 * const out = await teacherForcedAnswers(model, model.init(rng(0)), data, ex, 8);
 * console.log(out.length, byteTokenizer().eos); // 1 258
 * ```
 */
export async function teacherForcedAnswers(
  model: Module<ParamTree>,
  params: ParamTree,
  data: DataSource,
  examples: readonly Example[],
  batchSize: number,
  signal?: AbortSignal,
): Promise<string[]> {
  const tok = data.tokenizer;
  const out: string[] = [];
  for (let i = 0; i < examples.length; i += batchSize) {
    signal?.throwIfAborted();
    const b = makeBatch(tok, examples.slice(i, i + batchSize), {
      maxLength: data.maxLength,
      padSide: data.padSide ?? "right",
      padTo: "longest",
    });
    const best = scope(() =>
      noGrad(() => model.apply(params, tensor(b.ids, { shape: [b.batch, b.length] })).argmax(-1))
    );
    const ids = await best.data();
    best.dispose();
    for (let r = 0; r < b.batch; r++) {
      const answer: number[] = [];
      for (let t = 0; t < b.length; t++) {
        const k = r * b.length + t;
        if (b.answerMask[k] === 0) continue;
        if (ids[k] === tok.eos) break;
        answer.push(ids[k]);
      }
      out.push(tok.decode(answer));
    }
  }
  return out;
}

function checkTaskEval(o: { [key: string]: Json }): OptionProblem[] {
  const out: OptionProblem[] = [];
  if (typeof o.task !== "string" || !Object.hasOwn(TASKS, o.task)) {
    out.push({
      path: "task",
      message: `must be one of ${Object.keys(TASKS).join(", ")}, got ${show(o.task)}`,
    });
  }
  if (o.decode !== undefined && o.decode !== "greedy" && o.decode !== "teacherForced") {
    out.push({
      path: "decode",
      message: `must be "greedy" or "teacherForced", got ${show(o.decode)}`,
    });
  }
  for (const k of ["limit", "maxNewTokens", "batchSize"]) {
    const v = o[k];
    if (v !== undefined && !(typeof v === "number" && Number.isInteger(v) && v >= 1)) {
      out.push({ path: k, message: `must be an integer >= 1, got ${show(v)}` });
    }
  }
  return out;
}

registerEvaluator("task", (o: TaskEvalOptions) => taskEval(o), { validate: checkTaskEval });

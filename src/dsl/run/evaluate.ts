/**
 * Scoring a trained model: `evaluate(pipeline, params)` runs the pipeline's evaluator on
 * its held-out examples; `exactMatchEval()` is the GSM8K evaluator (greedy generation,
 * then exact match of the final number and step-set metrics from `src/data`).
 *
 * @module
 */

import { ensureBackend } from "../../autograd/backend.ts";
import { aggregateMetrics, exactMatch } from "../../data/mod.ts";
import { deriveSeed } from "../../data/random.ts";
import type { Tokenizer } from "../../tokenizers/mod.ts";
import type { LanguageModel, Module, ParamTree } from "../../nn/mod.ts";
import { continueRows, greedyGenerate } from "./greedy.ts";
import type { Pipeline } from "../spec/pipeline.ts";
import { describe, registerAlias, registerEvaluator, specOf } from "../spec/registry.ts";
import type { Evaluator, Example, ProblemResults } from "../spec/types.ts";

/**
 * Options of {@linkcode exactMatchEval}.
 *
 * @example
 * ```ts
 * import { exactMatchEval } from "@lossforge/core";
 * // The first 100 held-out problems, up to 96 generated tokens each.
 * const ev = exactMatchEval({ limit: 100, maxNewTokens: 96 });
 * console.log(ev.spec?.options); // { limit: 100, maxNewTokens: 96, batchSize: 16 }
 * ```
 */
export interface ExactMatchOptions {
  /** Score only the first `limit` examples (default all). */
  limit?: number;
  /** Tokens to generate per answer (default 64). */
  maxNewTokens?: number;
  /** Prompts per forward pass (default 16). */
  batchSize?: number;
}

/**
 * The model's context length, from its spec or its own `context` field.
 *
 * @example
 * ```ts
 * import { gpt } from "@lossforge/core";
 * import { modelContext } from "./evaluate.ts";
 * console.log(modelContext(gpt({ vocab: 259, context: 64, layers: 1, dim: 16, heads: 2 }))); // 64
 * ```
 */
export function modelContext(model: Module<ParamTree>): number | undefined {
  const c = specOf(model)?.options?.context ?? (model as { context?: unknown }).context;
  return typeof c === "number" ? c : undefined;
}

/**
 * An evaluator that generates greedily after each prompt and reports `exactMatch` (the
 * number after `####`, compared numerically) plus `iou`, `dice`, `precision`, `recall`,
 * `missing`, `extra` over the `<<...>>` steps, and `count`.
 *
 * @example
 * ```ts
 * import { exactMatchEval } from "@lossforge/core";
 * const ev = exactMatchEval({ limit: 50 });
 * console.log(ev.name, ev.spec?.options);
 * // "exactMatch" { limit: 50, maxNewTokens: 64, batchSize: 16 }
 * ```
 */
export function exactMatchEval(options: ExactMatchOptions = {}): Evaluator {
  const { limit, maxNewTokens = 64, batchSize = 16 } = options;
  const evaluator: Evaluator = {
    name: "exactMatch",
    async run(model, params, data, { examples, signal, onProblems }) {
      const chosen = limit === undefined ? examples : examples.slice(0, limit);
      if (chosen.length === 0) return { count: 0 };
      const prompts = chosen.map((e) => e.prompt);
      const predictions = await generateAnswers(model, params, data.tokenizer, prompts, {
        maxNewTokens,
        batchSize,
        signal,
      });
      const pairs = chosen.map((e, i) => ({ prediction: predictions[i], reference: e.target }));
      onProblems?.(
        problemResults(
          "exactMatch",
          chosen,
          pairs.map((q) => exactMatch(q.prediction, q.reference)),
        ),
      );
      return { ...aggregateMetrics(pairs) };
    },
  };
  return describe(evaluator, {
    kind: "exactMatch",
    options: { ...(limit !== undefined ? { limit } : {}), maxNewTokens, batchSize },
  });
}

/**
 * The id of the `index`-th held-out example: the index and a hash of the prompt, so that
 * per-problem results of two runs pair only where both scored the same problem.
 *
 * @example
 * ```ts
 * import { problemId } from "./evaluate.ts";
 * console.log(problemId({ prompt: "1+1=", target: "#### 2" }, 0)); // "0:" and 8 hex digits
 * ```
 */
export function problemId(example: Example, index: number): string {
  return `${index}:${deriveSeed(0, example.prompt).toString(16).padStart(8, "0")}`;
}

/**
 * The per-problem results of `examples` (scored in order) under `metric`.
 *
 * @example
 * ```ts
 * import { problemResults } from "./evaluate.ts";
 * const r = problemResults("exactMatch", [{ prompt: "1+1=", target: "#### 2" }], [true]);
 * console.log(r.metric, r.ids.length, r.correct); // "exactMatch" 1 [true]
 * ```
 */
export function problemResults(
  metric: string,
  examples: readonly Example[],
  correct: readonly boolean[],
): ProblemResults {
  return { metric, ids: examples.map(problemId), correct: [...correct] };
}

/**
 * The greedy continuation of each prompt, as evaluators score it: with a language model's
 * key/value cache when `model` is one (`gpt`, `llama`, a LoRA model), else by running the
 * whole sequence at each step within the model's context (`greedyGenerate`).
 *
 * @example
 * ```ts
 * import { byteTokenizer, gpt, rng } from "@lossforge/core";
 * import { generateAnswers } from "./evaluate.ts";
 * const model = gpt({ vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 });
 * const out = await generateAnswers(model, model.init(rng(0)), byteTokenizer(), ["1+1="], {
 *   maxNewTokens: 4,
 *   batchSize: 8,
 * });
 * console.log(out.length); // 1
 * ```
 */
export async function generateAnswers(
  model: Module<ParamTree>,
  params: ParamTree,
  tokenizer: Tokenizer,
  prompts: readonly string[],
  o: { maxNewTokens: number; batchSize: number; signal?: AbortSignal },
): Promise<string[]> {
  return isLanguageModel(model)
    ? await generateWithCache(model, params, tokenizer, prompts, o)
    : await greedyGenerate(model, params, tokenizer, prompts, {
      ...o,
      context: modelContext(model),
    });
}

function isLanguageModel(model: Module<ParamTree>): model is LanguageModel {
  const m = model as Partial<LanguageModel>;
  return typeof m.forward === "function" && typeof m.context === "number";
}

/** Greedy decoding with the model's key/value cache, prompts cut to leave room for answers. */
async function generateWithCache(
  model: LanguageModel,
  params: ParamTree,
  tokenizer: Tokenizer,
  prompts: readonly string[],
  o: { maxNewTokens: number; batchSize: number; signal?: AbortSignal },
): Promise<string[]> {
  const room = Math.max(1, model.context - Math.min(o.maxNewTokens, Math.floor(model.context / 2)));
  const rows = prompts.map((p) => {
    const ids = [...(tokenizer.bos !== undefined ? [tokenizer.bos] : []), ...tokenizer.encode(p)];
    return ids.length > room ? ids.slice(ids.length - room) : ids;
  });
  return await continueRows(model, params, tokenizer, rows, o);
}

registerEvaluator("exactMatch", (o: ExactMatchOptions) => exactMatchEval(o));
registerAlias("eval", "exact-match", "exactMatch");

/**
 * Options of {@linkcode evaluate}.
 *
 * @example
 * ```ts
 * import { evaluate, pipeline, train } from "@lossforge/core";
 * const run = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   eval: { kind: "exactMatch", options: { maxNewTokens: 8 } },
 *   steps: 4,
 * });
 * const { params } = await train(run);
 * // Score chosen examples instead of the data source's held-out ones.
 * const examples = [{ prompt: "1+1=", target: "#### 2" }];
 * const metrics = await evaluate(run, params, { examples });
 * console.log(metrics.count); // 1
 * ```
 */
export interface EvaluateOptions {
  /** Examples to score (default: the data source's held-out examples). */
  examples?: readonly Example[];
  /** Cancels the evaluation. */
  signal?: AbortSignal;
  /** Takes which examples were answered correctly (`EvalRunOptions.onProblems`). */
  onProblems?: (results: ProblemResults) => void;
}

/**
 * Runs the pipeline's evaluator on `params` (throws if the pipeline has none).
 *
 * @example
 * ```ts
 * import { evaluate, loadCheckpoint, pipelineFromJSON } from "@lossforge/core";
 * // Score a checkpoint of an earlier run with that run's own pipeline.
 * const run = pipelineFromJSON(await Deno.readTextFile("runs/demo/pipeline.json"));
 * const { params } = await loadCheckpoint("runs/demo/checkpoints");
 * console.log(await evaluate(run, params)); // { count: 200, exactMatch: ..., iou: ..., ... }
 * ```
 */
export async function evaluate(
  p: Pipeline,
  params: ParamTree,
  options: EvaluateOptions = {},
): Promise<Record<string, number>> {
  await ensureBackend();
  if (!p.eval) throw new TypeError(`evaluate: pipeline "${p.name}" has no eval`);
  const examples = options.examples ?? (await p.data.load()).eval;
  return await p.eval.run(p.model, params, p.data, {
    examples,
    signal: options.signal,
    ...(options.onProblems ? { onProblems: options.onProblems } : {}),
  });
}

/**
 * Data sources for pipelines over the byte-level tokenizer: examples given inline (`inline`),
 * the synthetic GSM8K generator (`gsm8kSynthetic`), and GSM8K files (`gsm8k`). Each is
 * registered under that kind, so configs can name it.
 *
 * @module
 */

import { gsm8k, gsm8kSynthetic, type SyntheticDifficulty } from "../../data/mod.ts";
import { byteTokenizer } from "../../tokenizers/mod.ts";
import { describe, registerAlias, registerDataset } from "../spec/registry.ts";
import type { DataSource, Example, Json } from "../spec/types.ts";

/**
 * Options of {@linkcode inlineData}.
 *
 * @example
 * ```ts
 * import { inlineData } from "@lossforge/core";
 * const data = inlineData({
 *   train: [{ prompt: "1+1=", target: "2" }, { prompt: "2+2=", target: "4" }],
 *   eval: [{ prompt: "3+3=", target: "6" }],
 *   maxLength: 16,
 *   padSide: "left",
 * });
 * console.log((await data.load()).eval.length, data.padSide); // 1 "left"
 * ```
 */
export interface InlineDataOptions {
  /** Label (default `"inline"`). */
  name?: string;
  /** Training examples. */
  train: readonly Example[];
  /** Held-out examples (default none). */
  eval?: readonly Example[];
  /** Positions per row. */
  maxLength: number;
  /** Padding side (default `"right"`). */
  padSide?: "left" | "right";
}

/**
 * A data source over examples given in code (or in the JSON config).
 *
 * @example
 * ```ts
 * import { inlineData } from "@lossforge/core";
 * const d = inlineData({ train: [{ prompt: "ab", target: "ab" }], maxLength: 8 });
 * console.log((await d.load()).train.length); // 1
 * ```
 */
export function inlineData(options: InlineDataOptions): DataSource {
  const train = options.train.map(pick), evalSet = (options.eval ?? []).map(pick);
  const source: DataSource = {
    name: options.name ?? "inline",
    tokenizer: byteTokenizer(),
    maxLength: options.maxLength,
    padSide: options.padSide ?? "right",
    load: () => Promise.resolve({ train, eval: evalSet }),
  };
  return describe(source, {
    kind: "inline",
    options: {
      ...(options.name ? { name: options.name } : {}),
      train: train.map(toJson),
      eval: evalSet.map(toJson),
      maxLength: options.maxLength,
      padSide: source.padSide!,
    },
  });
}

function pick(e: Example): Example {
  return { prompt: e.prompt, target: e.target };
}

function toJson(e: Example): Json {
  return { prompt: e.prompt, target: e.target };
}

/**
 * Options of {@linkcode gsm8kSyntheticData}.
 *
 * @example
 * ```ts
 * import { gsm8kSyntheticData } from "@lossforge/core";
 * const data = gsm8kSyntheticData({ seed: 1, count: 2000, evalCount: 100, difficulty: 2 });
 * const { train, eval: held } = await data.load();
 * console.log(train.length, held.length); // 2000 100
 * ```
 */
export interface Gsm8kSyntheticDataOptions {
  /** Generator seed (default 42). */
  seed?: number;
  /** Training problems (default 1000). */
  count?: number;
  /** Held-out problems, from the disjoint test split (default 200). */
  evalCount?: number;
  /** Steps per problem (default `"mixed"`). */
  difficulty?: SyntheticDifficulty;
  /** Positions per row (default 128). */
  maxLength?: number;
  /** Target format (default `"annotations"`). */
  target?: "annotations" | "solution";
  /** Every number in a solution stays below this (default 1000). */
  maxNumber?: number;
}

/**
 * The synthetic GSM8K-style problems of `gsm8kSynthetic` as a data source (kind
 * `gsm8kSynthetic`): train and test splits, byte tokens.
 *
 * @example
 * ```ts
 * import { gsm8kSyntheticData } from "@lossforge/core";
 * const d = gsm8kSyntheticData({ seed: 1, count: 10, evalCount: 5 });
 * const { train, eval: held } = await d.load();
 * console.log(train.length, held.length); // 10 5
 * ```
 */
export function gsm8kSyntheticData(options: Gsm8kSyntheticDataOptions = {}): DataSource {
  const {
    seed = 42,
    count = 1000,
    evalCount = 200,
    difficulty = "mixed",
    maxLength = 128,
    target = "annotations",
    maxNumber = 1000,
  } = options;
  const source: DataSource = {
    name: "gsm8kSynthetic",
    tokenizer: byteTokenizer(),
    maxLength,
    padSide: "right",
    load: () =>
      Promise.resolve({
        train: gsm8kSynthetic({ seed, count, difficulty, split: "train", target, maxNumber }),
        eval: gsm8kSynthetic({
          seed,
          count: evalCount,
          difficulty,
          split: "test",
          target,
          maxNumber,
        }),
      }),
  };
  return describe(source, {
    kind: "gsm8kSynthetic",
    options: { seed, count, evalCount, difficulty, maxLength, target, maxNumber },
  });
}

/**
 * Options of {@linkcode gsm8kSyntheticData}: an alias of `Gsm8kSyntheticDataOptions`.
 *
 * @example
 * ```ts
 * import { gsm8kSyntheticData, type SyntheticDataOptions } from "@lossforge/core";
 * const options: SyntheticDataOptions = { seed: 1, count: 100 };
 * console.log((await gsm8kSyntheticData(options).load()).train.length); // 100
 * ```
 */
export type SyntheticDataOptions = Gsm8kSyntheticDataOptions;

/**
 * The synthetic GSM8K data source: an alias of {@linkcode gsm8kSyntheticData}.
 *
 * @example
 * ```ts
 * import { syntheticData } from "@lossforge/core";
 * console.log(syntheticData({ count: 4 }).spec?.kind); // "gsm8kSynthetic"
 * ```
 */
export const syntheticData: typeof gsm8kSyntheticData = gsm8kSyntheticData;

/**
 * Options of {@linkcode gsm8kData}.
 *
 * @example
 * ```ts
 * import { gsm8kData } from "@lossforge/core";
 * // Score on the held-out 10% of train.jsonl while choosing settings; test.jsonl at the end.
 * const data = gsm8kData({ path: "data/gsm8k", evalSplit: "validation" });
 * console.log((await data.load()).eval.length); // 747
 * ```
 */
export interface Gsm8kDataOptions {
  /** Folder with train.jsonl and test.jsonl. */
  path: string;
  /** Which split evaluators see (default `"test"`). */
  evalSplit?: "test" | "validation";
  /** Positions per row (default 256). */
  maxLength?: number;
  /** Target format (default `"annotations"`). */
  target?: "annotations" | "solution";
  /** Skip malformed JSONL lines (default false: they throw with file:line). */
  skipBad?: boolean;
}

/**
 * GSM8K from JSONL files (`gsm8k`): the train split (90% of train.jsonl) for training and
 * the test or validation split for evaluation, byte tokens.
 *
 * @example
 * ```ts
 * import { gsm8kData } from "@lossforge/core";
 * const data = gsm8kData({ path: "data/gsm8k", maxLength: 256 });
 * const { train, eval: test } = await data.load();
 * console.log(data.name, train.length, test.length); // "gsm8k" 6726 1319
 * ```
 */
export function gsm8kData(options: Gsm8kDataOptions): DataSource {
  const { path, evalSplit = "test", maxLength = 256, target = "annotations" } = options;
  const skipBad = options.skipBad ?? false;
  const source: DataSource = {
    name: "gsm8k",
    tokenizer: byteTokenizer(),
    maxLength,
    padSide: "right",
    load: async () => ({
      train: await gsm8k({ path, split: "train", target, skipBad }),
      eval: await gsm8k({ path, split: evalSplit, target, skipBad }),
    }),
  };
  return describe(source, {
    kind: "gsm8k",
    options: { path, evalSplit, maxLength, target, skipBad },
  });
}

registerDataset("inline", (o: InlineDataOptions) => inlineData(o), {
  validate: (o) =>
    Array.isArray(o.train) && o.train.length > 0
      ? []
      : [{ path: "train", message: "must be a non-empty array of { prompt, target }" }],
});
registerDataset("gsm8kSynthetic", (o: Gsm8kSyntheticDataOptions) => gsm8kSyntheticData(o));
registerAlias("data", "gsm8k-synthetic", "gsm8kSynthetic");
registerDataset("gsm8k", (o: Gsm8kDataOptions) => gsm8kData(o), {
  validate: (o) =>
    typeof o.path === "string" && o.path
      ? []
      : [{ path: "path", message: `must be a folder path, got ${JSON.stringify(o.path)}` }],
});

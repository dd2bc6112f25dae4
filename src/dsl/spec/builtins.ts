/**
 * Registers the library's own parts under the names configs use: models `gpt`, `llama`;
 * losses `ce`, `focal`, `dice`, `jaccard`, `tversky`, `gdice`, `sadice`, `lovasz` (through
 * `lossByName`) and `combine`; optimizers `sgd`, `adam`, `adamw`; schedules `constant`,
 * `linearWarmup`, `cosine`, `warmupCosine`. Importing the DSL runs this once.
 *
 * A combined loss is written as
 * `{ kind: "combine", options: { terms: [["ce", 0.6], [{ kind: "lovasz" }, 0.4, { mask: "answer" }]] } }`.
 *
 * @module
 */

import { combine, type CombineTerm, LOSS_NAMES, lossByName } from "../../losses/mod.ts";
import { gpt, type GptConfig, llama, type LlamaConfig } from "../../nn/mod.ts";
import {
  adam,
  type AdamOptions,
  constant,
  cosine,
  fusedAdamw,
  linearWarmup,
  sgd,
  type SgdOptions,
  warmupCosine,
} from "../../optim/mod.ts";
import {
  type OptionProblem,
  registerLoss,
  registerModel,
  registerOptimizer,
  registerSchedule,
} from "./registry.ts";
import { show } from "../../util/show.ts";
import type { Json, LossLike, ModelLike, OptimizerLike, PartSpec, ScheduleLike } from "./types.ts";

type Options = { [key: string]: Json };

function required(...names: string[]): (o: Options) => OptionProblem[] {
  return (o) =>
    names.filter((n) => o[n] === undefined).map((n) => ({ path: n, message: "is required" }));
}

/**
 * The names `builtins` registers for each slot (for docs and `--help` texts).
 *
 * @example
 * ```ts
 * import { BUILTIN_NAMES } from "./builtins.ts";
 * console.log(BUILTIN_NAMES.loss.join(", "));
 * ```
 */
export const BUILTIN_NAMES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  model: ["gpt", "llama"],
  loss: [...LOSS_NAMES, "combine"],
  optimizer: ["sgd", "adam", "adamw"],
  schedule: ["constant", "linearWarmup", "cosine", "warmupCosine"],
});

registerModel(
  "gpt",
  (o) => gpt(o as unknown as GptConfig) as unknown as ModelLike,
  { validate: required("vocab", "context", "layers", "dim", "heads") },
);
registerModel(
  "llama",
  (o) => llama(o as unknown as LlamaConfig) as unknown as ModelLike,
  { validate: required("vocab", "dim", "layers", "heads", "hidden") },
);

for (const name of LOSS_NAMES) {
  registerLoss(name, (o) => lossByName(name, o) as LossLike);
}

function checkTerms(o: Options): OptionProblem[] {
  if (!Array.isArray(o.terms) || o.terms.length === 0) {
    return [{ path: "terms", message: `must be a non-empty array of [loss, weight, { mask }]` }];
  }
  const out: OptionProblem[] = [];
  o.terms.forEach((t, i) => {
    if (!Array.isArray(t) || t.length < 2 || t.length > 3) {
      out.push({
        path: `terms.${i}`,
        message: `must be [loss, weight, { mask }?], got ${show(t)}`,
      });
      return;
    }
    const [loss, weight, opts] = t;
    const lossOk = typeof loss === "string" ||
      (loss !== null && typeof loss === "object" && typeof (loss as Options).kind === "string");
    if (!lossOk) {
      out.push({ path: `terms.${i}.0`, message: `must be a loss spec, got ${show(loss)}` });
    }
    if (typeof weight !== "number" || !Number.isFinite(weight)) {
      out.push({
        path: `terms.${i}.1`,
        message: `weight must be a finite number, got ${show(weight)}`,
      });
    }
    const mask = (opts as Options | undefined)?.mask;
    if (mask !== undefined && mask !== "all" && mask !== "answer") {
      out.push({
        path: `terms.${i}.2.mask`,
        message: `must be "all" or "answer", got ${show(mask)}`,
      });
    }
  });
  return out;
}

registerLoss("combine", (o, resolve) => {
  const terms = (o.terms as Json[][]).map(([loss, weight, opts]) =>
    [
      resolve("loss", loss as unknown as PartSpec | string),
      weight as number,
      ...(opts ? [opts as { mask?: "all" | "answer" }] : []),
    ] as unknown as CombineTerm
  );
  return combine(terms) as LossLike;
}, { validate: checkTerms });

registerOptimizer("sgd", (o) => sgd(o as unknown as SgdOptions) as unknown as OptimizerLike, {
  validate: required("lr"),
});
registerOptimizer("adam", (o) => adam(o as AdamOptions) as unknown as OptimizerLike);
// AdamW by name is the fused one: a single kernel per tensor on WebGPU (the composed update
// costs a dozen dispatches per tensor), the same composed update elsewhere.
registerOptimizer("adamw", (o) => fusedAdamw(o as AdamOptions) as unknown as OptimizerLike);

registerSchedule("constant", (o) => constant(o.lr as number) as ScheduleLike, {
  validate: required("lr"),
});
registerSchedule(
  "linearWarmup",
  (o) => linearWarmup(o as { peak: number; warmup: number; start?: number }) as ScheduleLike,
  { validate: required("peak", "warmup") },
);
registerSchedule(
  "cosine",
  (o) => cosine(o as { peak: number; steps: number; end?: number }) as ScheduleLike,
  { validate: required("peak", "steps") },
);
registerSchedule(
  "warmupCosine",
  (o) =>
    warmupCosine(
      o as { peak: number; warmup: number; steps: number; start?: number; end?: number },
    ) as ScheduleLike,
  { validate: required("peak", "warmup", "steps") },
);

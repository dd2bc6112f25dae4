/**
 * Registers the library's own parts under the names configs use: models `gpt`, `llama`;
 * losses `ce`, `focal`, `dice`, `jaccard`, `tversky`, `gdice`, `sadice`, `lovasz` (through
 * `lossByName`) and `combine`; optimizers `sgd`, `adam`, `adamw`; schedules `constant`,
 * `linearWarmup`, `cosine`, `warmupCosine`. Importing the DSL runs this once.
 *
 * A combined loss is written as `{ kind: "combine", options: { terms: [["ce", 0.6],
 * [{ kind: "lovasz" }, 0.4, { mask: "answer" }]] } }`.
 *
 * @module
 */

import {
  combine,
  type CombineMask,
  type CombineTerm,
  LOSS_NAMES,
  lossByName,
  type Masking,
} from "../../losses/mod.ts";
import { gpt, type GptConfig, llama, type LlamaConfig } from "../../nn/mod.ts";
import {
  adam,
  type AdamOptions,
  adamw,
  constant,
  cosine,
  linearWarmup,
  sgd,
  type SgdOptions,
  warmupCosine,
} from "../../optim/mod.ts";
import {
  type JsonOptions,
  type OptionProblem,
  registerLoss,
  registerModel,
  registerOptimizer,
  registerSchedule,
} from "./registry.ts";
import { show } from "../../util/show.ts";
import type { PartSpec } from "./types.ts";

type Options = JsonOptions;

function required(...names: string[]): (o: Options) => OptionProblem[] {
  return (o) =>
    names.filter((n) => o[n] === undefined).map((n) => ({ path: n, message: "is required" }));
}

/**
 * The names `builtins` registers for each slot (for docs and `--help` texts).
 *
 * @example
 * ```ts
 * import { BUILTIN_NAMES } from "@lossforge/core";
 * console.log(BUILTIN_NAMES.loss.join(", "));
 * // "ce, focal, dice, jaccard, tversky, gdice, sadice, lovasz, combine"
 * ```
 */
export const BUILTIN_NAMES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  model: ["gpt", "llama"],
  loss: [...LOSS_NAMES, "combine"],
  optimizer: ["sgd", "adam", "adamw"],
  schedule: ["constant", "linearWarmup", "cosine", "warmupCosine"],
});

registerModel("gpt", (o: GptConfig) => gpt(o), {
  validate: required("vocab", "context", "layers", "dim", "heads"),
});
registerModel("llama", (o: LlamaConfig) => llama(o), {
  validate: required("vocab", "dim", "layers", "heads", "hidden"),
});

for (const name of LOSS_NAMES) {
  registerLoss(name, (o) => lossByName(name, o));
}
function checkTerms(o: Options): OptionProblem[] {
  if (!Array.isArray(o.terms) || o.terms.length === 0) {
    return [{ path: "terms", message: `must be a non-empty array of [loss, weight, { mask }]` }];
  }
  const out: OptionProblem[] = [];
  if (o.masking !== undefined && o.masking !== "exclude" && o.masking !== "paper") {
    out.push({ path: "masking", message: `must be "exclude" or "paper", got ${show(o.masking)}` });
  }
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

/** `combine`'s options as `checkTerms` accepts them: each loss a spec or a bare name. */
interface CombineOptions {
  terms: readonly [loss: PartSpec | string, weight: number, options?: { mask?: CombineMask }][];
  /** Given to `combine`: the masking of every term, `"exclude"` or `"paper"`. */
  masking?: Masking;
}

registerLoss("combine", (o: CombineOptions, resolve) => {
  const terms = o.terms.map(([loss, weight, opts]): CombineTerm =>
    opts ? [resolve("loss", loss), weight, opts] : [resolve("loss", loss), weight]
  );
  return combine(o.masking === undefined ? terms : { terms, masking: o.masking });
}, { validate: checkTerms });

registerOptimizer("sgd", (o: SgdOptions) => sgd(o), { validate: required("lr") });
registerOptimizer("adam", (o: AdamOptions) => adam(o));
// `adamw` takes its one-kernel update on WebGPU by itself (while fused ops are on).
registerOptimizer("adamw", (o: AdamOptions) => adamw(o));

registerSchedule("constant", (o: { lr: number }) => constant(o.lr), {
  validate: required("lr"),
});
registerSchedule("linearWarmup", linearWarmup, { validate: required("peak", "warmup") });
registerSchedule("cosine", cosine, { validate: required("peak", "steps") });
registerSchedule("warmupCosine", warmupCosine, { validate: required("peak", "warmup", "steps") });

import fc from "fast-check";
import {
  combine,
  crossEntropy,
  LOSS_NAMES,
  lossByName,
  lovaszHinge,
  pipeline,
  PipelineError,
  ValueError,
} from "../../mod.ts";
import { assert, assertThrows } from "../_assert.ts";
import { tinySpec } from "../dsl/_tiny.ts";

/** The options every Dice-type loss takes besides smooth, classes and fused. */
const OVERLAP = {
  logLoss: true,
  squared: true,
  classWeights: [1, 2, 1],
  perSequence: true,
  empty: "zero",
} as const;

/** Each loss name, the name its errors use, and options that set every option it takes. */
const EVERY_OPTION: Record<string, { loss: string; options: Record<string, unknown> }> = {
  ce: {
    loss: "crossEntropy",
    options: { labelSmoothing: 0.1, reduction: "sum", fused: false },
  },
  focal: { loss: "focal", options: { gamma: 1, alpha: [1, 1], reduction: "none", fused: false } },
  dice: { loss: "dice", options: { smooth: 1, classes: "all", fused: false, ...OVERLAP } },
  jaccard: {
    loss: "jaccard",
    options: { smooth: 1, classes: "all", fused: false, ...OVERLAP },
  },
  tversky: {
    loss: "tversky",
    options: {
      smooth: 1,
      classes: "all",
      fused: false,
      alpha: 0.3,
      beta: 0.7,
      gamma: 2,
      ...OVERLAP,
    },
  },
  gdice: {
    loss: "generalizedDice",
    options: { weight: "simple", smooth: 1, perSequence: false, fused: false },
  },
  sadice: {
    loss: "selfAdjustingDice",
    options: { alpha: 1, gamma: 1, reduction: "sum", fused: false },
  },
  lovasz: {
    loss: "lovaszSoftmax",
    options: { classes: "all", fused: false, classWeights: [1, 2, 1] },
  },

  // Segmentation-library variants of the losses above.
  ftversky: {
    loss: "focalTversky",
    options: {
      smooth: 1,
      classes: "all",
      fused: false,
      alpha: 0.3,
      beta: 0.7,
      gamma: 2,
      ...OVERLAP,
    },
  },

  // Token losses published after the paper.
  dft: { loss: "dynamicFineTuning", options: { reduction: "sum", fused: false } },
  prob: { loss: "probabilityLoss", options: { a: 0.5, reduction: "none", fused: false } },
  tofu: {
    loss: "temperedFocal",
    options: { gamma: 2, temperature: 1.2, reduction: "sum", fused: false },
  },
};
const BASE = { ignoreIndex: -1, masking: "paper" } as const;

Deno.test("loss options: every loss name accepts every option it documents", () => {
  for (const name of LOSS_NAMES) {
    const known = EVERY_OPTION[name];
    assert(known, `option_names_test: add ${name} to EVERY_OPTION`);
    lossByName(name, { ...BASE, ...known.options });
  }
  lovaszHinge({ ...BASE, perSequence: false, fused: false });
});

Deno.test("loss options: an unknown name is an error naming the loss, the option and the valid ones", () => {
  const key = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9]{0,11}$/);
  fc.assert(
    fc.property(fc.constantFrom(...LOSS_NAMES), key, (name, option) => {
      const { loss, options } = EVERY_OPTION[name];
      const valid = [...Object.keys(BASE), ...Object.keys(options)];
      fc.pre(!valid.includes(option) && option !== "__proto__");
      const e = assertThrows(() => lossByName(name, { [option]: 1 }), ValueError);
      assert(e.message.startsWith(`${loss}: unknown option "${option}"`), e.message);
      const listed = e.message.slice(e.message.indexOf("valid options: ") + 15).split(", ");
      assert(listed.toSorted().join() === valid.toSorted().join(), e.message);
    }),
    { numRuns: 200 },
  );
});

Deno.test("loss options: the misspelt focal({ gama: 2 }) fails instead of training with the default gamma", () => {
  assertThrows(
    () => lossByName("focal", { gama: 2 }),
    ValueError,
    'focal: unknown option "gama"; valid options: alpha, fused, gamma, ignoreIndex, masking, reduction',
  );
  assertThrows(
    () => lossByName("dice", { smoth: 1, clases: "all" }),
    ValueError,
    'unknown options "smoth", "clases"',
  );
  assertThrows(
    () => lovaszHinge({ perSequnce: false } as never),
    ValueError,
    'lovaszHinge: unknown option "perSequnce"',
  );
  assertThrows(
    () => lossByName("ce", null as never),
    ValueError,
    "crossEntropy: options must be an object",
  );
});

Deno.test("loss options: combine rejects unknown keys in its options and in a term's options", () => {
  assertThrows(
    () => combine({ terms: [[crossEntropy(), 1]], mask: "answer" } as never),
    ValueError,
    'combine: unknown option "mask"; valid options: masking, terms',
  );
  assertThrows(
    () => combine([[crossEntropy(), 1, { mask: "answer", weight: 2 } as never]]),
    ValueError,
    'combine: term 0 (crossEntropy): unknown option "weight"; valid options: mask',
  );
});

Deno.test("loss options: a pipeline spec with a misspelt loss option fails naming the option", () => {
  const e = assertThrows(
    () => pipeline({ ...tinySpec(), loss: { kind: "focal", options: { gama: 2 } } }),
  );
  assert(e instanceof PipelineError || e instanceof ValueError, `${e}`);
  assert(e.message.includes('unknown option "gama"'), e.message);
});

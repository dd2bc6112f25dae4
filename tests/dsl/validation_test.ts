import { pipeline, PipelineError, type PipelineSpec, withLoss, withModel } from "../../mod.ts";
import { assert, assertEquals } from "../_assert.ts";
import { bigram, tinyData, tinySpec } from "./_tiny.ts";

/** The problems `spec` is rejected with, as "path: message" lines. */
function problemsOf(spec: unknown): string[] {
  try {
    pipeline(spec as PipelineSpec);
  } catch (e) {
    if (e instanceof PipelineError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  throw new Error("expected a PipelineError");
}

function has(problems: string[], expected: string): void {
  assert(
    problems.some((p) => p.startsWith(expected)),
    `expected a problem starting with ${JSON.stringify(expected)}, got:\n${problems.join("\n")}`,
  );
}

Deno.test("pipeline: defaults are filled and the result is frozen", () => {
  const p = pipeline(tinySpec({ batchSize: undefined, logEvery: undefined, seed: undefined }));
  assertEquals(
    [p.name, p.batchSize, p.gradAccum, p.seed, p.logEvery, p.evalEvery, p.onNonFinite],
    ["run", 8, 1, 42, 10, 0, "stop"],
  );
  assert(Object.isFrozen(p));
  assert(typeof p.model.apply === "function" && p.model.spec?.kind === "test-bigram");
});

Deno.test("pipeline: every problem is reported at once, with its path", () => {
  const problems = problemsOf({
    ...tinySpec(),
    optimizer: { kind: "adamw", options: { lr: -1, betas: [0.9, 1.5], eps: 0 } },
    steps: 0,
    batchSize: 2.5,
    gradAccum: 0,
    clip: -3,
    seed: "x",
    logEvery: 0,
    evalEvery: -1,
    onNonFinite: "ignore",
    checkpoint: { dir: "", every: 0, keep: 0, extra: 1 },
    typo: true,
  });
  for (
    const expected of [
      "optimizer.options.lr: must be > 0, got -1",
      "optimizer.options.betas: must be two numbers in [0, 1)",
      "optimizer.options.eps: must be > 0, got 0",
      "steps: must be an integer >= 1, got 0",
      "batchSize: must be an integer >= 1, got 2.5",
      "gradAccum: must be an integer >= 1, got 0",
      "clip: must be > 0, got -3",
      'seed: must be an integer, got "x"',
      "logEvery: must be an integer >= 1, got 0",
      "evalEvery: must be an integer >= 0, got -1",
      'onNonFinite: must be "stop" or "skip", got "ignore"',
      "checkpoint.extra: unknown field",
      'checkpoint.dir: must be a non-empty string, got ""',
      "checkpoint.every: must be an integer >= 1, got 0",
      "checkpoint.keep: must be an integer >= 1, got 0",
      "typo: unknown field",
    ]
  ) has(problems, expected);
  assertEquals(problems.length, 16);
});

Deno.test("pipeline: a live part's options are checked too (optimizer.lr)", () => {
  const opt = {
    init: () => ({ step: 0, slots: {} }),
    update: (_g: never, s: never, p: never) => ({ params: p, state: s }),
    lr: -1,
  };
  has(problemsOf(tinySpec({ optimizer: opt })), "optimizer.lr: must be > 0, got -1");
});

Deno.test("pipeline: missing parts, wrong shapes and unknown kinds", () => {
  const problems = problemsOf({
    loss: 3,
    optimizer: { init: () => ({ step: 0, slots: {} }) },
    steps: 5,
  });
  has(problems, "model: is required");
  has(problems, "data: is required");
  has(problems, "loss: must be a loss function or a { kind, options } spec, got 3");
  has(problems, "optimizer: is not a optimizer: missing update()");
  has(
    problemsOf(tinySpec({ loss: "nope" })),
    'loss.kind: unknown loss "nope" (known: ce, combine, dft, dice, focal, ftversky, gdice, jaccard,',
  );
  has(problemsOf(tinySpec({ model: { kind: 42 } as never })), "model.kind: must be a string");
  has(
    problemsOf(tinySpec({ optimizer: { kind: "adamw", options: 5 as never } })),
    "optimizer.options: must be an object",
  );
  has(
    problemsOf(tinySpec({ schedule: { kind: "cosine" } })),
    "schedule.options.steps: is required",
  );
  has(
    problemsOf(tinySpec({ data: { kind: "inline", options: {} } })),
    "data.options.train: must be a non-empty array",
  );
  has(problemsOf("x"), ': must be an object, got "x"');
});

Deno.test("pipeline: steps xor epochs, eval rules, vocabulary and model shape rules", () => {
  has(problemsOf(tinySpec({ steps: undefined })), "steps: give steps or epochs");
  has(problemsOf(tinySpec({ epochs: 2 })), "epochs: give steps or epochs, not both");
  has(problemsOf(tinySpec({ steps: undefined, epochs: -1 })), "epochs: must be > 0, got -1");
  has(problemsOf(tinySpec({ evalEvery: 5 })), "evalEvery: is 5 but the pipeline has no eval");
  has(problemsOf(tinySpec({ name: "" })), 'name: must be a non-empty string, got ""');
  has(
    problemsOf(tinySpec({ model: { kind: "test-bigram", options: { vocab: 100, dim: 4 } } })),
    "model.options.vocab: is 100, smaller than the data tokenizer's vocabulary (259)",
  );
  has(
    problemsOf(tinySpec({ model: bigram({ vocab: 10, dim: 4 }) })),
    "model.vocab: is 10, smaller",
  );
  const gptProblems = problemsOf(tinySpec({
    model: { kind: "gpt", options: { vocab: 259, context: 0, layers: 1, dim: 10, heads: 4 } },
  }));
  has(gptProblems, "model.options.context: must be an integer >= 1, got 0");
  has(gptProblems, "model.options.dim: dim (10) must be divisible by heads (4)");
  has(
    problemsOf(tinySpec({ model: { kind: "gpt", options: { vocab: 259 } } })),
    "model.options.context: is required",
  );
  has(
    problemsOf(tinySpec({ loss: { kind: "focal", options: { gamma: -1 } } })),
    "loss.options.gamma: must be >= 0, got -1",
  );
  has(
    problemsOf(tinySpec({
      loss: { kind: "combine", options: { terms: [["ce", "x"], ["dice", 1, { mask: "q" }]] } },
    })),
    "loss.options.terms.0.1: weight must be a finite number",
  );
  has(
    problemsOf(tinySpec({ data: { kind: "gsm8k-synthetic", options: { maxLength: 1 } } })),
    "data.options.maxLength: must be an integer >= 2, got 1",
  );
  has(
    problemsOf(tinySpec({ eval: { kind: "exact-match", options: { limit: 0 } } })),
    "eval.options.limit: must be an integer >= 1, got 0",
  );
});

Deno.test("pipeline: a schedule needs an optimizer whose learning rate can change", () => {
  const fixed = {
    init: () => ({ step: 0, slots: {} }),
    update: (_g: never, s: never, p: never) => ({ params: p, state: s }),
  };
  has(
    problemsOf(tinySpec({ optimizer: fixed, schedule: (s: number) => 1 / (s + 1) })),
    "schedule: the optimizer cannot change its learning rate",
  );
  // A registry-built optimizer can: it is rebuilt with each step's learning rate.
  pipeline(tinySpec({
    schedule: { kind: "warmupCosine", options: { peak: 0.05, warmup: 2, steps: 30 } },
  }));
});

Deno.test("withLoss / withModel / spread make validated variants", () => {
  const p = pipeline(tinySpec());
  const focal = withLoss(p, { kind: "focal", options: { gamma: 2 } });
  assertEquals([focal.loss.spec?.kind, p.loss.spec?.kind], ["focal", "ce"]);
  const wide = withModel(p, bigram({ vocab: 259, dim: 16 }));
  assertEquals(wide.model.spec?.options, { vocab: 259, dim: 16 });
  const seeded = pipeline({ ...p, seed: 7, data: tinyData(24) });
  assertEquals([seeded.seed, seeded.data.maxLength, p.seed], [7, 24, 1]);
  has(problemsOf({ ...p, batchSize: -1 }), "batchSize: must be an integer >= 1, got -1");
});

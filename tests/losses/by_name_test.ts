import {
  buildPart,
  combine,
  crossEntropy,
  dice,
  dynamicFineTuning,
  focal,
  focalTversky,
  generalizedDice,
  jaccard,
  LOSS_NAMES,
  lossByName,
  lovaszSoftmax,
  pipeline,
  PipelineError,
  probabilityLoss,
  selfAdjustingDice,
  temperedFocal,
  tversky,
  ValueError,
} from "../../mod.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { f64, i32, valueOn } from "./_helpers.ts";
import { tinySpec } from "../dsl/_tiny.ts";

const p = { logits: [[1, 2, 0], [0, 1, 3], [2, 2, 2], [0, 0, 1]], targets: [1, 2, -100, 0] };

Deno.test("lossByName: every name builds the same loss as its factory", async () => {
  assertEquals([...LOSS_NAMES], [
    "ce",
    "focal",
    "dice",
    "jaccard",
    "tversky",
    "gdice",
    "sadice",
    "lovasz",
    // Segmentation-library variants of the losses above.
    "ftversky",

    // Token losses published after the paper.
    "dft",
    "prob",
    "tofu",
  ]);
  const pairs = [
    [lossByName("ce", { labelSmoothing: 0.1 }), crossEntropy({ labelSmoothing: 0.1 })],
    [lossByName("focal", { gamma: 1 }), focal({ gamma: 1 })],
    [lossByName("dice", { classes: "all" }), dice({ classes: "all" })],
    [lossByName("jaccard"), jaccard()],
    [lossByName("tversky", { alpha: 0.2, beta: 0.8 }), tversky({ alpha: 0.2, beta: 0.8 })],
    [lossByName("gdice", { weight: "simple" }), generalizedDice({ weight: "simple" })],
    [lossByName("sadice", { alpha: 2 }), selfAdjustingDice({ alpha: 2 })],
    [lossByName("lovasz"), lovaszSoftmax()],
    // Segmentation-library variants of the losses above.
    [lossByName("ftversky", { gamma: 2 }), focalTversky({ gamma: 2 })],
    [lossByName("ftversky"), tversky({ alpha: 0.3, beta: 0.7, gamma: 0.75 })],

    // Token losses published after the paper.
    [lossByName("dft"), dynamicFineTuning()],
    [lossByName("prob", { a: 0.5 }), probabilityLoss({ a: 0.5 })],
    [lossByName("tofu", { gamma: 2 }), temperedFocal({ gamma: 2 })],
  ] as const;
  for (const [byName, direct] of pairs) {
    assert(byName.name === direct.name, `${byName.name} vs ${direct.name}`);
    assertClose(await valueOn(byName, p), await valueOn(direct, p), { rtol: 0, atol: 0 });
  }
});

Deno.test("lossByName: an unknown name lists the valid ones", () => {
  const e = assertThrows(() => lossByName("crossentropy"), ValueError, "crossentropy");
  for (const n of LOSS_NAMES) assert(e.message.includes(n), e.message);
  assertThrows(() => lossByName("toString"), ValueError, "valid names");
});

Deno.test("lossByName: options are validated by the factory", () => {
  assertThrows(() => lossByName("focal", { gamma: -2 }), ValueError, "gamma");
});

Deno.test("lossByName: masking passes through to every loss", async () => {
  for (const name of LOSS_NAMES) {
    const paper = lossByName(name, { masking: "paper" });
    assert(paper.name.endsWith("paper)"), paper.name);
    assertEquals(lossByName(name, { masking: "exclude" }).name, lossByName(name).name);
    assertThrows(() => lossByName(name, { masking: "zeros" }), ValueError, "masking");
  }
  const focalPaper = await valueOn(lossByName("focal", { masking: "paper" }), p);
  assertClose(focalPaper, await valueOn(focal({ masking: "paper" }), p), { rtol: 0, atol: 0 });
  assert(focalPaper !== await valueOn(focal(), p));
});

Deno.test("pipeline loss specs: masking reaches the loss and combine; a bad value is named", async () => {
  const spec = { kind: "focal", options: { masking: "paper" } };
  const built = buildPart("loss", spec);
  assertClose(await valueOn(built, p), await valueOn(focal({ masking: "paper" }), p), {
    rtol: 0,
    atol: 0,
  });
  const terms = [["ce", 0.6], ["gdice", 0.4, { mask: "answer" }]];
  const both = buildPart("loss", { kind: "combine", options: { terms, masking: "paper" } });
  const direct = combine({
    terms: [[crossEntropy(), 0.6], [generalizedDice(), 0.4, { mask: "answer" }]],
    masking: "paper",
  });
  const z = f64([[1, 2, 0], [0, 1, 3], [2, 2, 2], [0, 0, 1]], [1, 4, 3]);
  const t = i32([1, 2, 0, 0], [1, 4]);
  const answerMask = f64([0, 1, 1, 1], [1, 4]);
  const a = await both(z, t, { answerMask } as never).item();
  assertClose(a, await direct(z, t, { answerMask }).item(), { rtol: 0, atol: 0 });
  // Pipeline validation accepts both values and names the field for any other.
  pipeline(tinySpec({ loss: spec as never }));
  pipeline(
    tinySpec({ loss: { kind: "combine", options: { terms, masking: "exclude" } } as never }),
  );
  const e = assertThrows(
    () => pipeline(tinySpec({ loss: { kind: "sadice", options: { masking: "half" } } as never })),
    PipelineError,
  );
  assert(e.message.includes("loss.options.masking"), e.message);
  assert(e.message.includes('"exclude", "paper"'), e.message);
});

import {
  crossEntropy,
  dice,
  focal,
  generalizedDice,
  jaccard,
  LOSS_NAMES,
  lossByName,
  lovaszSoftmax,
  selfAdjustingDice,
  tversky,
  ValueError,
} from "../../mod.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { valueOn } from "./_helpers.ts";

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

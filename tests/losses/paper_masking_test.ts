// masking: "paper" against the published code's steps (tests/losses/_paper_reference.ts) on
// hand-made and random problems, float64 gradients against central differences, and
// "exclude" unchanged. CPU backend, float64.
import fc from "fast-check";
import {
  crossEntropy,
  dice,
  dynamicFineTuning,
  focal,
  generalizedDice,
  jaccard,
  type LossFn,
  lovaszHinge,
  lovaszSoftmax,
  type Masking,
  probabilityLoss,
  selfAdjustingDice,
  temperedFocal,
  tversky,
  ValueError,
} from "../../mod.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { gradcheck } from "../_gradcheck.ts";
import { DFT_FROZEN, type Frozen, frozenGradcheck, temperedFocalFrozen } from "./_frozen.ts";
import {
  f64,
  i32,
  type ProblemOptions,
  problems,
  tensorsOf,
  valueAndGradOn,
  valueOn,
} from "./_helpers.ts";
import {
  keepMask,
  paperCrossEntropy,
  paperDft,
  paperDice,
  paperFocal,
  paperGeneralizedDice,
  paperJaccard,
  paperLovaszHinge,
  paperLovaszSoftmax,
  paperProbability,
  paperSelfAdjustingDice,
  paperTemperedFocal,
  paperTversky,
} from "./_paper_reference.ts";
import type { Problem } from "./_reference.ts";

/** A paper-mode loss, its published-code reference, and whether it sorts (Lovász). */
interface PaperCase {
  label: string;
  make: (masking?: Masking) => LossFn;
  reference: (p: Problem) => number;
  sorts?: boolean;
  /** Problem sizes (merged into the random problems' options). */
  sizes?: ProblemOptions;
  /** A stop-gradient inside: the gradient is checked against this frozen surrogate. */
  frozen?: Frozen;
}

const all = (p: Problem) => [p.targets.map((_, i) => i)];

const CASES: PaperCase[] = [
  {
    label: "crossEntropy",
    make: (masking) => crossEntropy({ masking }),
    reference: paperCrossEntropy,
  },
  { label: "focal", make: (masking) => focal({ masking }), reference: (p) => paperFocal(p) },
  {
    label: "focal(gamma=1, alpha)",
    make: (masking) => focal({ masking, gamma: 1, alpha: [0.5, 2, 1, 1.5, 3] }),
    reference: (p) => paperFocal(p, 1, [0.5, 2, 1, 1.5, 3]),
    sizes: { minC: 5, maxC: 5 },
  },
  {
    label: "selfAdjustingDice",
    make: (masking) => selfAdjustingDice({ masking }),
    reference: (p) => paperSelfAdjustingDice(p),
  },
  {
    label: "dynamicFineTuning",
    make: (masking) => dynamicFineTuning({ masking }),
    reference: paperDft,
    frozen: DFT_FROZEN,
  },
  {
    label: "probabilityLoss(a=0.5)",
    make: (masking) => probabilityLoss({ masking, a: 0.5 }),
    reference: (p) => paperProbability(p, 0.5),
  },
  {
    label: "temperedFocal",
    make: (masking) => temperedFocal({ masking }),
    reference: (p) => paperTemperedFocal(p),
    frozen: temperedFocalFrozen(),
  },
  { label: "dice", make: (masking) => dice({ masking }), reference: (p) => paperDice(p) },
  {
    label: "dice(all)",
    make: (masking) => dice({ masking, classes: "all", smooth: 1 }),
    reference: (p) => paperDice(p, 1, "all"),
  },
  { label: "jaccard", make: (masking) => jaccard({ masking }), reference: (p) => paperJaccard(p) },
  {
    label: "tversky(0.3, 0.7)",
    make: (masking) => tversky({ masking, alpha: 0.3, beta: 0.7 }),
    reference: (p) => paperTversky(p, 0.3, 0.7),
  },
  {
    label: "generalizedDice",
    make: (masking) => generalizedDice({ masking }),
    reference: (p) => paperGeneralizedDice(p, all(p)),
  },
  {
    label: "generalizedDice(simple)",
    make: (masking) => generalizedDice({ masking, weight: "simple" }),
    reference: (p) => paperGeneralizedDice(p, all(p), 1e-5, 1),
  },
  {
    label: "lovaszSoftmax",
    make: (masking) => lovaszSoftmax({ masking }),
    reference: (p) => paperLovaszSoftmax(p),
    sorts: true,
  },
  {
    label: "lovaszSoftmax(all)",
    make: (masking) => lovaszSoftmax({ masking, classes: "all" }),
    reference: (p) => paperLovaszSoftmax(p, "all"),
    sorts: true,
  },
];

// Six positions, five classes; positions 1 and 4 are ignored, classes 1 and 3 never occur.
const HAND: Problem = {
  logits: [
    [2.0, -1.0, 0.5, 0.0, 1.0],
    [0.3, 0.2, -0.4, 1.5, 0.0],
    [-1.0, 0.0, 2.5, 0.5, -0.5],
    [1.2, 0.4, 0.1, -2.0, 0.8],
    [0.0, 3.0, -1.0, 0.2, 0.4],
    [0.5, -0.5, 1.0, 0.0, 2.0],
  ],
  targets: [2, -100, 2, 0, -100, 4],
};
// The same with the last position masked out as well (a mask zero acts as an ignore).
const HAND_MASKED: Problem = { ...HAND, mask: [1, 1, 1, 1, 1, 0] };
// Class 0 occurs nowhere among the kept targets: "paper" makes it present anyway.
const NO_ZERO: Problem = { ...HAND, targets: [2, -100, 2, 4, -100, 4] };

for (const c of CASES) {
  Deno.test(`paper ${c.label}: equals the published code's steps on hand-made problems`, async () => {
    for (const p of [HAND, HAND_MASKED, NO_ZERO]) {
      assertClose(await valueOn(c.make("paper"), p), c.reference(p), {
        rtol: 1e-12,
        atol: 1e-15,
        msg: c.label,
      });
    }
  });

  Deno.test(`paper ${c.label}: equals the published code's steps on random problems`, async () => {
    await fc.assert(
      fc.asyncProperty(problems({ mask: true, maxC: 6, ...c.sizes }), async (p) => {
        assertClose(await valueOn(c.make("paper"), p), c.reference(p), {
          rtol: 1e-9,
          atol: 1e-12,
          msg: c.label,
        });
      }),
      { numRuns: 60 },
    );
  });

  Deno.test(`paper ${c.label}: float64 gradient equals central differences`, async () => {
    const loss = c.make("paper");
    await fc.assert(
      fc.asyncProperty(problems({ maxN: 5, maxC: 4, mask: true, ...c.sizes }), async (p) => {
        fc.pre(!c.sorts || paperLovaszGap(p) > 1e-4);
        if (c.frozen) return await frozenGradcheck(loss, c.frozen, p, "paper", c.label);
        const { logits, targets, mask } = tensorsOf(p);
        await gradcheck(([z]) => loss(z, targets, { mask }), [logits], {
          tol: 1e-5,
          msg: c.label,
        });
      }),
      { numRuns: 20 },
    );
  });

  Deno.test(`${c.label}: masking "exclude" is the default, value and gradient`, async () => {
    await fc.assert(
      fc.asyncProperty(problems({ mask: true, ...c.sizes }), async (p) => {
        const base = await valueAndGradOn(c.make(), p);
        for (const explicit of [c.make("exclude"), callWith(c.make("paper"), "exclude")]) {
          const same = await valueAndGradOn(explicit, p);
          assert(Object.is(same.value, base.value), `${c.label}: ${same.value} ${base.value}`);
          assertEquals(Array.from(same.grad), Array.from(base.grad));
        }
      }),
      { numRuns: 30 },
    );
  });

  Deno.test(`${c.label}: a call's masking overrides the loss's own`, async () => {
    assertClose(await valueOn(callWith(c.make(), "paper"), HAND), c.reference(HAND), {
      rtol: 1e-12,
    });
  });

  Deno.test(`${c.label}: an invalid masking names the loss, the option and the values`, () => {
    const name = c.label.replace(/\(.*$/, "");
    for (const bad of ["Paper", "remove", ""]) {
      const e = assertThrows(() => c.make(bad as Masking), ValueError, "masking");
      assert(e.message.startsWith(`${name}: masking must be one of "exclude", "paper"`), e.message);
      assert(e.message.includes(JSON.stringify(bad)), e.message);
      const call = callWith(c.make(), bad as Masking);
      assertThrows(() => call(f64(HAND.logits), i32(HAND.targets)), ValueError, `${name}: masking`);
    }
  });
}

/** `loss` called with `masking` in its call options. */
function callWith(loss: LossFn, masking: Masking): LossFn {
  return (z, t, opts) => loss(z, t, { ...opts, masking });
}

/** The smallest gap between paper-mode Lovász errors of a class where one is at a kept row. */
function paperLovaszGap(p: Problem): number {
  const m = keepMask(p);
  const probs = p.logits.map((z) => {
    const e = z.map((v) => Math.exp(v - Math.max(...z)));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
  let gap = Infinity;
  for (let k = 0; k < p.logits[0].length; k++) {
    const err = p.targets.map((t, i) => ({
      e: Math.abs((t * m[i] === k ? 1 : 0) - probs[i][k] * m[i]),
      kept: m[i] === 1,
    }));
    for (let i = 0; i < err.length; i++) {
      for (let j = i + 1; j < err.length; j++) {
        if (err[i].kept || err[j].kept) gap = Math.min(gap, Math.abs(err[i].e - err[j].e));
      }
    }
  }
  return gap;
}

Deno.test("paper: the differences from exclude on the hand-made problem", async () => {
  const both = async (make: (m: Masking) => LossFn) => [
    await valueOn(make("exclude"), HAND),
    await valueOn(make("paper"), HAND),
  ];
  // Cross-entropy: PyTorch's removes ignored positions in the published code too.
  const [ce, cePaper] = await both((masking) => crossEntropy({ masking }));
  assert(ce === cePaper, `${ce} ${cePaper}`);
  // Focal: two zero rows, each -(1 - 1/5)^2 log(1/5), join the four kept ones in the mean.
  const [f, fPaper] = await both((masking) => focal({ masking }));
  assertClose(fPaper, (4 * f + 2 * 0.64 * Math.log(5)) / 6, { rtol: 1e-12 });
  // Lovász: class 0 gains the two zero rows, each with error 1.
  const [l, lPaper] = await both((masking) => lovaszSoftmax({ masking }));
  assert(l !== lPaper, `${l} ${lPaper}`);
  // Generalized Dice: the negative ratio, in [-2, 0].
  const [g, gPaper] = await both((masking) => generalizedDice({ masking }));
  assert(g >= 0 && g <= 1 && gPaper < 0 && gPaper >= -2, `${g} ${gPaper}`);
});

Deno.test("paper generalizedDice: per sequence of [B, T, C], each sequence's own weights", async () => {
  const logits = f64(HAND.logits.flat(), [2, 3, 5]);
  const targets = i32(HAND.targets, [2, 3]);
  const expected = paperGeneralizedDice(HAND, [[0, 1, 2], [3, 4, 5]]);
  const value = await generalizedDice({ masking: "paper" })(logits, targets).item();
  assertClose(value, expected, { rtol: 1e-12 });
  const pooled = await generalizedDice({ masking: "paper", perSequence: false })(logits, targets);
  assertClose(await pooled.item(), paperGeneralizedDice(HAND, all(HAND)), { rtol: 1e-12 });
  await gradcheck(([z]) => generalizedDice({ masking: "paper" })(z, targets), [logits], {
    tol: 1e-5,
  });
});

Deno.test("paper generalizedDice: absent classes' weights of ~1e20 push it to about -1e-21", async () => {
  // 13 classes, 8 positions, 3 classes present: the absent ones dominate the denominator.
  const logits = Array.from(
    { length: 8 },
    (_, i) => Array.from({ length: 13 }, (_, k) => Math.sin(3 * i + k)),
  );
  const p: Problem = { logits, targets: [0, 4, 4, 7, -100, 0, 7, 4] };
  const v = await valueOn(generalizedDice({ masking: "paper" }), p);
  assertClose(v, paperGeneralizedDice(p, all(p)), { rtol: 1e-12 });
  assert(v < 0 && v > -1e-19, `${v}`);
});

Deno.test("paper lovaszHinge: equals the published convention per sequence", async () => {
  // No error exactly 0 (the relu's kink), so central differences apply.
  const logits = [[2, -1, 0.5, 0.3], [-3, 0.6, 1, -0.2]];
  const targets = [[1, -100, 1, 0], [0, 1, -100, -100]];
  const z = f64(logits.flat(), [2, 4]), t = i32(targets.flat(), [2, 4]);
  const loss = lovaszHinge({ masking: "paper" });
  assertClose(await loss(z, t).item(), paperLovaszHinge(logits, targets), { rtol: 1e-12 });
  assertEquals(loss.name, "lovaszHinge(perSequence, paper)");
  await gradcheck(([x]) => loss(x, t), [z], { tol: 1e-5 });
  await gradcheck(([x]) => lovaszHinge({ masking: "paper", fused: true })(x, t), [z], {
    tol: 1e-5,
  });
  assertThrows(() => lovaszHinge({ masking: "nope" as Masking }), ValueError, "lovaszHinge");
});

Deno.test("paper: names say so; exclude names are unchanged", () => {
  assertEquals(focal({ masking: "paper" }).name, "focal(gamma=2, paper)");
  assertEquals(focal({ masking: "exclude" }).name, "focal(gamma=2)");
  assertEquals(crossEntropy({ masking: "paper" }).name, "crossEntropy(paper)");
  assertEquals(dice({ masking: "paper" }).name, "dice(present, paper)");
  assertEquals(generalizedDice({ masking: "paper" }).name, "generalizedDice(square, paper)");
  assertEquals(lovaszSoftmax({ masking: "paper" }).name, "lovaszSoftmax(present, paper)");
});

Deno.test("paper: reduction none and sum of the per-position losses keep the zero rows", async () => {
  const { logits, targets } = tensorsOf(HAND);
  const none = await focal({ masking: "paper", reduction: "none" })(logits, targets).array();
  const zeroRow = -0.64 * Math.log(0.2);
  assertClose((none as number[])[1], zeroRow, { rtol: 1e-12 });
  assertClose((none as number[])[4], zeroRow, { rtol: 1e-12 });
  const sum = await focal({ masking: "paper", reduction: "sum" })(logits, targets).item();
  assertClose(sum, 6 * paperFocal(HAND), { rtol: 1e-12 });
});

Deno.test("paper: a window leaves positions out in both modes", async () => {
  const { logits, targets } = tensorsOf(HAND);
  const window = i32([0, 1, 1, 1, 1, 0]);
  const inside: Problem = { logits: HAND.logits.slice(1, 5), targets: HAND.targets.slice(1, 5) };
  for (const c of CASES) {
    for (const masking of ["exclude", "paper"] as const) {
      const v = await c.make(masking)(logits, targets, { window }).item();
      const expected = await valueOn(c.make(masking), inside);
      assertClose(v, expected, { rtol: 1e-12, atol: 1e-15, msg: `${c.label} ${masking}` });
    }
  }
  assertThrows(() => focal()(logits, targets, { window: i32([1, 1]) }), Error, "window [2]");
});

// The segmentation-library options of Dice, Jaccard and Tversky (logLoss, squared,
// classWeights, perSequence, empty, Tversky's gamma) and Lovász-Softmax's classWeights:
// against a plain-JS reference of their definitions, their invariants, and central
// differences in float64.
import fc from "fast-check";
import {
  dice,
  type EmptyPolicy,
  focalTversky,
  jaccard,
  type LossFn,
  lovaszSoftmax,
  type Tensor,
  tversky,
  valueAndGrad,
  ValueError,
} from "../../mod.ts";
import { assert, assertClose, assertThrows } from "../_assert.ts";
import { gradcheck } from "../_gradcheck.ts";
import {
  f64,
  GRAD_RUNS,
  i32,
  logitsOfProbabilities,
  problems,
  RUNS,
  valueAndGradOn,
  valueOn,
} from "./_helpers.ts";
import { counted, type Problem, refLovaszExtension } from "./_reference.ts";

type Kind = "dice" | "jaccard" | "tversky";

/** The options under test, as the reference reads them. */
interface Opts {
  kind: Kind;
  smooth: number;
  classes: "present" | "all";
  logLoss: boolean;
  squared: boolean;
  classWeights?: number[];
  perSequence: boolean;
  empty?: EmptyPolicy;
  gamma: number;
}

const A = 0.3, B = 0.7; // Tversky's alpha and beta in these tests

function softmaxRow(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Per-class losses of one sequence's counted rows (the definitions in docs/losses.md). */
function refPerClass(p: Problem, rows: number[], o: Opts): { loss: number[]; sy: number[] } {
  const c = p.logits[0].length;
  const zero = () => new Array<number>(c).fill(0);
  const [tp, sp, sy, sp2, tp2] = [zero(), zero(), zero(), zero(), zero()];
  for (const i of rows) {
    const pr = softmaxRow(p.logits[i]);
    const t = p.targets[i];
    pr.forEach((v, k) => {
      sp[k] += v;
      sp2[k] += v * v;
    });
    tp[t] += pr[t];
    tp2[t] += pr[t] * pr[t];
    sy[t] += 1;
  }
  const s = o.smooth;
  const loss = tp.map((t, k) => {
    const mass = o.squared ? sp2[k] : sp[k];
    let num: number, den: number;
    if (o.kind === "dice") [num, den] = [2 * t + s, mass + sy[k] + s];
    else if (o.kind === "jaccard") [num, den] = [t + s, mass + sy[k] - t + s];
    else {
      const fp = o.squared ? sp2[k] - tp2[k] : sp[k] - t;
      const fn = o.squared ? sy[k] - 2 * t + tp2[k] : sy[k] - t;
      [num, den] = [t + s, t + A * fp + B * fn + s];
    }
    const score = den === 0 ? 1 : num / den;
    const l = o.logLoss ? -Math.log(Math.max(score, 1e-7)) : 1 - score;
    return o.gamma === 1 ? l : Math.pow(Math.max(l, 1e-30), o.gamma);
  });
  return { loss, sy };
}

/** The loss of `p` whose rows form `sequences` (one sequence when pooled). */
function reference(p: Problem, o: Opts, sequences: number[][]): number {
  const kept = new Set(counted(p));
  const values: number[] = [];
  let any = false;
  for (const seq of o.perSequence ? sequences : [sequences.flat()]) {
    const rows = seq.filter((i) => kept.has(i));
    if (!rows.length) {
      if (o.perSequence && (o.empty === "zero" || o.empty === "one")) {
        values.push(o.empty === "one" ? 1 : 0);
      }
      continue;
    }
    any = true;
    const { loss, sy } = refPerClass(p, rows, o);
    let num = 0, den = 0;
    loss.forEach((l, k) => {
      const absent = sy[k] === 0;
      if (absent && (o.classes === "present" || o.empty === "skip")) return;
      const value = absent && o.empty === "zero" ? 0 : absent && o.empty === "one" ? 1 : l;
      const w = o.classWeights?.[k] ?? 1;
      num += w * value;
      den += w;
    });
    values.push(den === 0 ? 0 : num / den);
  }
  if (!any || !values.length) return 0;
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** The engine's loss for the options. */
function lossOf(o: Opts): LossFn {
  const common = {
    smooth: o.smooth,
    classes: o.classes,
    logLoss: o.logLoss,
    squared: o.squared,
    classWeights: o.classWeights,
    perSequence: o.perSequence,
    empty: o.empty,
  };
  if (o.kind === "dice") return dice(common);
  if (o.kind === "jaccard") return jaccard(common);
  return tversky({ ...common, alpha: A, beta: B, gamma: o.gamma });
}

/** A problem of B sequences of T positions and C classes, with options for its C. */
const cases = fc.record({
  b: fc.integer({ min: 1, max: 3 }),
  t: fc.integer({ min: 1, max: 3 }),
  c: fc.integer({ min: 2, max: 4 }),
}).chain(({ b, t, c }) =>
  fc.record({
    b: fc.constant(b),
    t: fc.constant(t),
    p: problems({ minN: b * t, maxN: b * t, minC: c, maxC: c, mask: true }),
    o: fc.record({
      kind: fc.constantFrom<Kind>("dice", "jaccard", "tversky"),
      smooth: fc.constantFrom(0, 1e-5, 1),
      classes: fc.constantFrom<"present" | "all">("present", "all"),
      logLoss: fc.boolean(),
      squared: fc.boolean(),
      classWeights: fc.option(
        fc.array(fc.constantFrom(0, 0.5, 1, 3), { minLength: c, maxLength: c })
          .filter((w) => w.some((v) => v > 0)),
        { nil: undefined },
      ),
      perSequence: fc.boolean(),
      empty: fc.constantFrom<EmptyPolicy | undefined>(undefined, "skip", "zero", "one"),
      gamma: fc.constantFrom(1, 0.75, 2),
    }).map((o) => ({ ...o, gamma: o.kind === "tversky" ? o.gamma : 1 })),
  })
);

/** The logits `[B, T, C]` and targets `[B, T]` of a case, float64 on the CPU. */
function tensors(b: number, t: number, p: Problem) {
  const c = p.logits[0].length;
  return {
    z: f64(p.logits, [b, t, c]),
    y: i32(p.targets, [b, t]),
    mask: p.mask ? f64(p.mask, [b, t]) : undefined,
  };
}

const sequencesOf = (b: number, t: number) =>
  Array.from({ length: b }, (_, s) => Array.from({ length: t }, (_, i) => s * t + i));

const valueOf = (loss: LossFn, b: number, t: number, p: Problem) => {
  const { z, y, mask } = tensors(b, t, p);
  return loss(z, y, { mask }).item();
};

Deno.test("overlap options: every combination equals the plain-JS reference", async () => {
  await fc.assert(
    fc.asyncProperty(cases, async ({ b, t, p, o }) => {
      const got = await valueOf(lossOf(o), b, t, p);
      assertClose(got, reference(p, o, sequencesOf(b, t)), {
        rtol: 1e-10,
        atol: 1e-12,
        msg: JSON.stringify(o),
      });
    }),
    { numRuns: 300 },
  );
});

Deno.test("overlap options: float64 gradient equals central differences", async () => {
  await fc.assert(
    fc.asyncProperty(cases, async ({ b, t, p, o }) => {
      const { z, y, mask } = tensors(b, t, p);
      const loss = lossOf(o);
      await gradcheck(([x]) => loss(x, y, { mask }), [z], {
        tol: 1e-5,
        msg: JSON.stringify(o),
      });
    }),
    GRAD_RUNS,
  );
});

Deno.test("overlap options: defaults leave the name and value of the plain losses alone", async () => {
  const p: Problem = { logits: [[1, 2, 0], [0, 1, 3], [2, 2, 2]], targets: [1, 2, -100] };
  const explicit = { logLoss: false, squared: false, perSequence: false };
  for (
    const [plain, set] of [
      [dice(), dice(explicit)],
      [jaccard({ classes: "all" }), jaccard({ classes: "all", ...explicit })],
      [tversky({ alpha: 0.2 }), tversky({ alpha: 0.2, gamma: 1, ...explicit })],
    ] as const
  ) {
    assert(plain.name === set.name, `${plain.name} vs ${set.name}`);
    const [a, b] = [await valueAndGradOn(plain, p), await valueAndGradOn(set, p)];
    assertClose(b.value, a.value, { rtol: 0, atol: 0 });
    assertClose(b.grad, a.grad, { rtol: 0, atol: 0 });
  }
  assert(dice().name === "dice(present)", dice().name);
});

/** The loss of class k alone: a one-hot class weight. */
const oneHot = (c: number, k: number) => Array.from({ length: c }, (_, j) => (j === k ? 1 : 0));

Deno.test("logLoss: -log(1 - loss) of each class, the mean of those over classes", async () => {
  await fc.assert(
    fc.asyncProperty(
      problems({ mask: true, ignore: false }),
      fc.constantFrom<Kind>("dice", "jaccard", "tversky"),
      async (p, kind) => {
        const c = p.logits[0].length;
        const make = (logLoss: boolean, classWeights?: number[]) =>
          lossOf({
            kind,
            smooth: 1e-5,
            classes: "all",
            logLoss,
            squared: false,
            classWeights,
            perSequence: false,
            gamma: 1,
          });
        let mean = 0;
        for (let k = 0; k < c; k++) {
          const plain = await valueOn(make(false, oneHot(c, k)), p);
          const log = await valueOn(make(true, oneHot(c, k)), p);
          assertClose(log, -Math.log(Math.max(1 - plain, 1e-7)), { rtol: 1e-9, atol: 1e-12 });
          mean += log / c;
        }
        assertClose(await valueOn(make(true), p), mean, { rtol: 1e-9, atol: 1e-12 });
      },
    ),
    RUNS,
  );
});

Deno.test("squared: a one-hot perfect prediction gives 0 for Dice, Jaccard and Tversky", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 6 }),
      fc.constantFrom(0, 1e-5, 1),
      async (targets, smooth) => {
        const p: Problem = {
          logits: logitsOfProbabilities(targets.map((t) => [0, 1, 2, 3].map((k) => +(k === t)))),
          targets,
        };
        for (
          const loss of [
            dice({ squared: true, smooth }),
            jaccard({ squared: true, smooth }),
            tversky({ squared: true, smooth, alpha: A, beta: B, gamma: 0.75 }),
            dice({ squared: true, smooth, logLoss: true }),
          ]
        ) {
          assertClose(await valueOn(loss, p), 0, { atol: 1e-15, msg: loss.name });
        }
      },
    ),
    RUNS,
  );
});

Deno.test("squared: Dice and Jaccard are Tversky with a = b = 1/2 and a = b = 1", async () => {
  await fc.assert(
    fc.asyncProperty(problems({ mask: true }), async (p) => {
      const pairs = [
        [tversky({ squared: true, smooth: 0 }), dice({ squared: true, smooth: 0 })],
        [tversky({ squared: true, alpha: 1, beta: 1 }), jaccard({ squared: true })],
      ];
      for (const [a, b] of pairs) {
        const [x, y] = [await valueAndGradOn(a, p), await valueAndGradOn(b, p)];
        assertClose(x.value, y.value, { rtol: 1e-12, atol: 1e-15 });
        assertClose(x.grad, y.grad, { rtol: 1e-9, atol: 1e-14 });
      }
    }),
    RUNS,
  );
});

Deno.test("classWeights: all equal is the unweighted loss; one-hot picks one class", async () => {
  await fc.assert(
    fc.asyncProperty(
      problems({ mask: true }),
      fc.constantFrom<Kind>("dice", "jaccard", "tversky"),
      fc.constantFrom<"present" | "all">("present", "all"),
      fc.double({ min: 0.1, max: 10, noNaN: true }),
      async (p, kind, classes, w) => {
        const c = p.logits[0].length;
        const o: Opts = {
          kind,
          smooth: 1e-5,
          classes,
          logLoss: false,
          squared: false,
          perSequence: false,
          gamma: 1,
        };
        const plain = await valueAndGradOn(lossOf(o), p);
        const same = await valueAndGradOn(lossOf({ ...o, classWeights: new Array(c).fill(w) }), p);
        assertClose(same.value, plain.value, { rtol: 1e-12, atol: 1e-15 });
        assertClose(same.grad, plain.grad, { rtol: 1e-9, atol: 1e-14 });
        const rows = counted(p);
        const { loss, sy } = refPerClass(p, rows, o);
        for (let k = 0; k < c; k++) {
          const picked = await valueOn(lossOf({ ...o, classWeights: oneHot(c, k) }), p);
          const averaged = classes === "all" || sy[k] > 0;
          assertClose(picked, averaged && rows.length ? loss[k] : 0, { rtol: 1e-10, atol: 1e-12 });
        }
      },
    ),
    RUNS,
  );
});

Deno.test("classWeights: a length other than C names the loss and both lengths", () => {
  const z = f64([[1, 2, 0], [0, 1, 3]]), y = i32([0, 2]);
  for (
    const [name, loss] of [
      ["dice", dice({ classWeights: [1, 2] })],
      ["jaccard", jaccard({ classWeights: [1, 2, 3, 4] })],
      ["tversky", tversky({ classWeights: [1] })],
      ["lovaszSoftmax", lovaszSoftmax({ classWeights: [1, 1] })],
    ] as const
  ) {
    const e = assertThrows(() => loss(z, y), ValueError, `${name}: classWeights has`);
    assert(/has \d entr(y|ies) but the logits have 3 classes/.test(e.message), e.message);
  }
});

Deno.test("overlap options: bad values are ValueErrors naming the loss and the field", () => {
  assertThrows(() => dice({ classWeights: [1, -1] }), ValueError, "dice: classWeights[1]");
  assertThrows(() => jaccard({ classWeights: [0, 0] }), ValueError, "jaccard: classWeights");
  assertThrows(() => dice({ classWeights: [] }), ValueError, "dice: classWeights");
  assertThrows(() => lovaszSoftmax({ classWeights: [NaN] }), ValueError, "lovaszSoftmax");
  // @ts-expect-error: not a boolean
  assertThrows(() => dice({ logLoss: 1 }), ValueError, "dice: logLoss");
  // @ts-expect-error: not a boolean
  assertThrows(() => tversky({ squared: "yes" }), ValueError, "tversky: squared");
  // @ts-expect-error: not a boolean
  assertThrows(() => jaccard({ perSequence: 0 }), ValueError, "jaccard: perSequence");
  // @ts-expect-error: not a choice
  assertThrows(() => dice({ empty: "nan" }), ValueError, 'dice: empty must be one of "skip"');
  assertThrows(() => tversky({ gamma: 0 }), ValueError, "tversky: gamma");
  assertThrows(() => tversky({ gamma: -1 }), ValueError, "tversky: gamma");
  assertThrows(() => focalTversky({ gamma: Infinity }), ValueError, "tversky: gamma");
  assertThrows(
    () => focalTversky({ gama: 2 } as never),
    ValueError,
    'focalTversky: unknown option "gama"',
  );
});

Deno.test("perSequence: one sequence equals the pooled loss, value and gradient", async () => {
  await fc.assert(
    fc.asyncProperty(
      problems({ mask: true }),
      fc.constantFrom<Kind>("dice", "jaccard", "tversky"),
      fc.constantFrom<"present" | "all">("present", "all"),
      async (p, kind, classes) => {
        const n = p.logits.length, c = p.logits[0].length;
        const o: Opts = {
          kind,
          smooth: 1e-5,
          classes,
          logLoss: false,
          squared: true,
          perSequence: false,
          gamma: 1,
        };
        const y = i32(p.targets, [1, n]), mask = p.mask ? f64(p.mask, [1, n]) : undefined;
        const run = (loss: LossFn) =>
          valueAndGrad((x: Tensor) => loss(x, y, { mask }))(f64(p.logits, [1, n, c]));
        const [va, ga] = run(lossOf(o));
        const [vb, gb] = run(lossOf({ ...o, perSequence: true }));
        assertClose(await vb.item(), await va.item(), { rtol: 1e-12, atol: 1e-15 });
        assertClose(await gb.data(), await ga.data(), { rtol: 1e-9, atol: 1e-14 });
        // [T, C] logits are one sequence too.
        const flat = await valueOn(lossOf({ ...o, perSequence: true }), p);
        assertClose(flat, await va.item(), { rtol: 1e-12, atol: 1e-15 });
      },
    ),
    RUNS,
  );
});

Deno.test("perSequence: the mean of each sequence's own loss", async () => {
  // Sequence 0 is perfect for its one class; sequence 1 puts half its mass on the wrong one.
  const z = f64([[[9, -9], [9, -9]], [[0, 0], [0, 0]]].flat(), [2, 2, 2]);
  const y = i32([0, 0, 1, 1], [2, 2]);
  const pooled = await dice({ smooth: 0 })(z, y).item();
  const per = await dice({ smooth: 0, perSequence: true })(z, y).item();
  // Sequence 0: class 0 with q = σ(18) at both positions, 1 - 2·2q / (2q + 2); sequence 1:
  // class 1 with p = 1/2, 1 - 2·1 / (1 + 2).
  const q = 1 / (1 + Math.exp(-18));
  assertClose(per, (1 - (4 * q) / (2 * q + 2) + 1 / 3) / 2, { rtol: 1e-12 });
  assert(Math.abs(per - pooled) > 0.05, `${per} vs ${pooled}`);
});

Deno.test("focal-Tversky: gamma 1 is Tversky; values in [0, 1]; monotone in gamma", async () => {
  await fc.assert(
    fc.asyncProperty(
      problems({ mask: true }),
      fc.double({ min: 0.1, max: 4, noNaN: true }),
      fc.double({ min: 0.1, max: 4, noNaN: true }),
      async (p, g1, g2) => {
        const plain = await valueAndGradOn(tversky({ alpha: A, beta: B }), p);
        const one = await valueAndGradOn(tversky({ alpha: A, beta: B, gamma: 1 }), p);
        assertClose(one.value, plain.value, { rtol: 0, atol: 0 });
        assertClose(one.grad, plain.grad, { rtol: 0, atol: 0 });
        const [lo, hi] = g1 < g2 ? [g1, g2] : [g2, g1];
        const a = await valueOn(tversky({ alpha: A, beta: B, gamma: lo }), p);
        const b = await valueOn(tversky({ alpha: A, beta: B, gamma: hi }), p);
        assert(a >= 0 && a <= 1 && b >= 0 && b <= 1, `${a} ${b}`);
        // Each class's 1 - TI lies in [0, 1], so a larger power gives a smaller term.
        assert(b <= a + 1e-12, `gamma ${lo} -> ${a}, ${hi} -> ${b}`);
      },
    ),
    RUNS,
  );
});

Deno.test("focal-Tversky: known values on target [1,1,1,1] against prediction [1,1,0,0]", async () => {
  // The segmentation libraries' known pair: Dice score 2/3, Jaccard 1/2 (REFERENCES.md).
  const known: Problem = {
    logits: logitsOfProbabilities([[0, 1], [0, 1], [1, 0], [1, 0]]),
    targets: [1, 1, 1, 1],
  };
  const v = (loss: LossFn) => valueOn(loss, known);
  assertClose(await v(tversky({ smooth: 0, gamma: 2 })), (1 / 3) ** 2, { rtol: 1e-12 });
  assertClose(await v(tversky({ smooth: 0, alpha: 1, beta: 1, gamma: 0.5 })), Math.sqrt(0.5), {
    rtol: 1e-12,
  });
  // TP = 2, FN = 2: TI = 2 / (2 + 0.7 · 2); focalTversky's power 0.75.
  assertClose(await v(focalTversky({ smooth: 0 })), (1 - 2 / 3.4) ** 0.75, { rtol: 1e-12 });
  assertClose(await v(dice({ smooth: 0, logLoss: true })), Math.log(3 / 2), { rtol: 1e-12 });
  assertClose(await v(jaccard({ smooth: 0, logLoss: true })), Math.log(2), { rtol: 1e-12 });
  // Hard predictions: p² = p, so squared changes nothing.
  assertClose(await v(dice({ smooth: 0, squared: true })), 1 / 3, { rtol: 1e-12 });
  assertClose(await v(jaccard({ smooth: 0, squared: true })), 1 / 2, { rtol: 1e-12 });
  // Soft: p = 1/2 everywhere; Dice 2·2/(4·1/2 + 4) = 2/3, squared 2·2/(4·1/4 + 4) = 4/5.
  const half: Problem = { logits: [[0, 0], [0, 0], [0, 0], [0, 0]], targets: [1, 1, 1, 1] };
  assertClose(await valueOn(dice({ smooth: 0 }), half), 1 / 3, { rtol: 1e-12 });
  assertClose(await valueOn(dice({ smooth: 0, squared: true }), half), 1 / 5, { rtol: 1e-12 });
});

Deno.test("empty: an absent class under classes 'all' is skipped, 0, 1 or scored", async () => {
  // Class 2 never occurs and receives about 2 · 0.018 of the mass.
  const p: Problem = { logits: [[4, 0, 0], [0, 4, 0]], targets: [0, 1] };
  const base = { classes: "all" } as const;
  const present = await valueOn(dice(), p);
  const perClass = refPerClass(p, [0, 1], {
    kind: "dice",
    smooth: 1e-5,
    classes: "all",
    logLoss: false,
    squared: false,
    perSequence: false,
    gamma: 1,
  }).loss;
  assertClose(await valueOn(dice({ ...base, empty: "skip" }), p), present, { rtol: 1e-12 });
  const [l0, l1, l2] = perClass;
  assertClose(await valueOn(dice(base), p), (l0 + l1 + l2) / 3, { rtol: 1e-12 });
  assertClose(await valueOn(dice({ ...base, empty: "zero" }), p), (l0 + l1) / 3, { rtol: 1e-12 });
  assertClose(await valueOn(dice({ ...base, empty: "one" }), p), (l0 + l1 + 1) / 3, {
    rtol: 1e-12,
  });
  // Smoothing 0: the formula gives the absent class a loss of exactly 1 (its score 0/S(p)).
  assertClose(
    await valueOn(dice({ ...base, smooth: 0 }), p),
    await valueOn(dice({ ...base, smooth: 0, empty: "one" }), p),
    { rtol: 1e-12 },
  );
  // Under "present" absent classes are never averaged.
  for (const empty of ["skip", "zero", "one"] as const) {
    assertClose(await valueOn(dice({ empty }), p), present, { rtol: 0, atol: 0 });
  }
});

Deno.test("empty: a sequence with no counted position is skipped or counts as 0 or 1", async () => {
  const z = f64([[[2, 0], [0, 2]], [[1, 0], [0, 1]]].flat(), [2, 2, 2]);
  const y = i32([0, 1, -100, -100], [2, 2]);
  const only = await jaccard()(f64([[2, 0], [0, 2]]), i32([0, 1])).item();
  const run = (empty?: EmptyPolicy) => jaccard({ perSequence: true, empty })(z, y).item();
  assertClose(await run(), only, { rtol: 1e-12 });
  assertClose(await run("skip"), only, { rtol: 1e-12 });
  assertClose(await run("zero"), only / 2, { rtol: 1e-12 });
  assertClose(await run("one"), (only + 1) / 2, { rtol: 1e-12 });
  // Nothing counted at all: 0 with zero gradient, whatever the policy.
  const none = i32([-100, -100, -100, -100], [2, 2]);
  for (const empty of [undefined, "skip", "zero", "one"] as const) {
    for (const perSequence of [true, false]) {
      const loss = jaccard({ perSequence, empty, classes: "all" });
      const [v, g] = valueAndGrad((x: Tensor) => loss(x, none))(z);
      assert((await v.item()) === 0, `${loss.name}: ${await v.item()}`);
      assert((await g.data()).every((x) => x === 0), loss.name);
    }
  }
});

/** Lovász-Softmax of one class k over the counted positions (the contract's loss_c). */
function refLovaszClass(p: Problem, k: number): number {
  const rows = counted(p);
  const y = rows.map((i) => (p.targets[i] === k ? 1 : 0));
  return refLovaszExtension(rows.map((i, j) => Math.abs(y[j] - softmaxRow(p.logits[i])[k])), y);
}

Deno.test("lovaszSoftmax classWeights: equal weights change nothing; one-hot picks one class", async () => {
  await fc.assert(
    fc.asyncProperty(
      problems({ mask: true }),
      fc.constantFrom<"present" | "all">("present", "all"),
      fc.double({ min: 0.1, max: 10, noNaN: true }),
      async (p, classes, w) => {
        const c = p.logits[0].length;
        const plain = await valueAndGradOn(lovaszSoftmax({ classes }), p);
        const same = await valueAndGradOn(
          lovaszSoftmax({ classes, classWeights: new Array(c).fill(w) }),
          p,
        );
        assertClose(same.value, plain.value, { rtol: 1e-12, atol: 1e-15 });
        assertClose(same.grad, plain.grad, { rtol: 1e-9, atol: 1e-14 });
        const rows = counted(p);
        for (let k = 0; k < c; k++) {
          const picked = await valueOn(lovaszSoftmax({ classes, classWeights: oneHot(c, k) }), p);
          const averaged = rows.length > 0 &&
            (classes === "all" || rows.some((i) => p.targets[i] === k));
          assertClose(picked, averaged ? refLovaszClass(p, k) : 0, { rtol: 1e-10, atol: 1e-12 });
        }
      },
    ),
    RUNS,
  );
});

Deno.test("lovaszSoftmax classWeights: the weighted mean, and its name", async () => {
  // C = 6 > N = 3: the scored classes are the sorted targets' slots, weighted by class.
  const p: Problem = {
    logits: [[3, 0, 1, 0, 0, 2], [0, 2, 0, 1, 0, 0], [1, 0, 0, 0, 3, 0]],
    targets: [5, 1, 5],
  };
  const w = [9, 2, 9, 9, 9, 3];
  const want = (2 * refLovaszClass(p, 1) + 3 * refLovaszClass(p, 5)) / 5;
  assertClose(await valueOn(lovaszSoftmax({ classWeights: w }), p), want, { rtol: 1e-12 });
  const loss = lovaszSoftmax({ classWeights: w });
  assert(loss.name === "lovaszSoftmax(classWeights=[9,2,9,9,9,3], present)", loss.name);
  const z = f64(p.logits), y = i32(p.targets);
  await gradcheck(([x]) => loss(x, y), [z], { tol: 1e-6 });
});

/**
 * The "paper" convention made explicit: every position that is not kept (ignored or masked)
 * becomes a row of zero logits with target 0, and then counts.
 */
function zeroRows(p: Problem): Problem {
  const kept = new Set(counted(p));
  return {
    logits: p.logits.map((row, i) => (kept.has(i) ? row : row.map(() => 0))),
    targets: p.targets.map((t, i) => (kept.has(i) ? t : 0)),
  };
}

Deno.test("overlap options: paper masking is the options applied to zeroed rows", async () => {
  await fc.assert(
    fc.asyncProperty(cases, async ({ b, t, p, o }) => {
      const paper = lossOf(o);
      const { z, y, mask } = tensors(b, t, p);
      const got = await paper(z, y, { mask, masking: "paper" }).item();
      const want = reference(zeroRows(p), o, sequencesOf(b, t));
      assertClose(got, want, { rtol: 1e-10, atol: 1e-12, msg: JSON.stringify(o) });
      // The zeroed rows are constants: the gradient there is 0, as in every paper loss.
      const [, g] = valueAndGrad((x: Tensor) => paper(x, y, { mask, masking: "paper" }))(z);
      const grad = await g.data(), c = p.logits[0].length, kept = new Set(counted(p));
      for (let i = 0; i < b * t; i++) {
        if (kept.has(i)) continue;
        for (let k = 0; k < c; k++) assert(grad[i * c + k] === 0, `row ${i}: ${grad[i * c + k]}`);
      }
    }),
    RUNS,
  );
});

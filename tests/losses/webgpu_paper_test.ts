// masking: "paper" on the WebGPU backend (float32), fused kernels and composed ops, against
// the CPU float64 result of the same loss; and the trainer window of combine on WebGPU.
import fc from "fast-check";
import {
  combine,
  crossEntropy,
  dice,
  dynamicFineTuning,
  focal,
  generalizedDice,
  jaccard,
  type LossFn,
  lovaszHinge,
  lovaszSoftmax,
  probabilityLoss,
  selfAdjustingDice,
  temperedFocal,
  type Tensor,
  tensor,
  tversky,
  valueAndGrad,
} from "../../mod.ts";
import { assertClose } from "../_assert.ts";
import { gpuTest } from "../gpu/_util.ts";
import { problems, valueAndGradOn } from "./_helpers.ts";
import type { Problem } from "./_reference.ts";

const TOL = { rtol: 2e-4, atol: 2e-5 };

/** Value and logits-gradient on `backend` (webgpu: float32; cpu: float64) of `shape`. */
async function run(
  loss: LossFn,
  logits: number[],
  targets: number[],
  shape: number[],
  extra: { answerMask?: number[] } = {},
): Promise<{ value: number; grad: ArrayLike<number> }> {
  const backend = "webgpu";
  const z = tensor(logits, { backend, shape });
  const t = tensor(targets, { dtype: "int32", backend, shape: shape.slice(0, -1) });
  const a = extra.answerMask
    ? tensor(extra.answerMask, { backend, shape: shape.slice(0, -1) })
    : undefined;
  const [v, g] = valueAndGrad((x: Tensor) =>
    (loss as (z: Tensor, t: Tensor, o: { answerMask?: Tensor }) => Tensor)(x, t, {
      answerMask: a,
    })
  )(z);
  const [value, grad] = await Promise.all([v.item(), g.data()]);
  for (const x of [z, t, a, v, g]) x?.dispose();
  return { value, grad };
}

/** The same on the CPU in float64. */
async function runCpu(
  loss: LossFn,
  logits: number[],
  targets: number[],
  shape: number[],
  extra: { answerMask?: number[] } = {},
): Promise<{ value: number; grad: ArrayLike<number> }> {
  const z = tensor(logits, { dtype: "float64", backend: "cpu", shape });
  const t = tensor(targets, { dtype: "int32", backend: "cpu", shape: shape.slice(0, -1) });
  const a = extra.answerMask
    ? tensor(extra.answerMask, { dtype: "float64", backend: "cpu", shape: shape.slice(0, -1) })
    : undefined;
  const [v, g] = valueAndGrad((x: Tensor) =>
    (loss as (z: Tensor, t: Tensor, o: { answerMask?: Tensor }) => Tensor)(x, t, {
      answerMask: a,
    })
  )(z);
  return { value: await v.item(), grad: await g.data() };
}

const PAPER: [string, (fused: boolean) => LossFn][] = [
  ["crossEntropy", (fused) => crossEntropy({ fused, masking: "paper" })],
  ["focal", (fused) => focal({ fused, masking: "paper" })],
  ["selfAdjustingDice", (fused) => selfAdjustingDice({ fused, masking: "paper" })],
  ["dynamicFineTuning", (fused) => dynamicFineTuning({ fused, masking: "paper" })],
  ["probabilityLoss(a=0.5)", (fused) => probabilityLoss({ fused, masking: "paper", a: 0.5 })],
  ["temperedFocal", (fused) => temperedFocal({ fused, masking: "paper" })],
  ["dice", (fused) => dice({ fused, masking: "paper" })],
  ["jaccard", (fused) => jaccard({ fused, masking: "paper" })],
  ["tversky(0.3, 0.7)", (fused) => tversky({ fused, masking: "paper", alpha: 0.3, beta: 0.7 })],
  ["generalizedDice", (fused) => generalizedDice({ fused, masking: "paper" })],
  ["lovaszSoftmax", (fused) => lovaszSoftmax({ fused, masking: "paper" })],
  ["lovaszSoftmax(all)", (fused) => lovaszSoftmax({ fused, masking: "paper", classes: "all" })],
];

/** Whether every pair of paper-mode Lovász errors at kept rows is apart (a unique order). */
function apart(p: Problem): boolean {
  const probs = p.logits.map((z) => {
    const e = z.map((v) => Math.exp(v - Math.max(...z)));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
  for (let k = 0; k < p.logits[0].length; k++) {
    const err = p.targets.map((t, i) =>
      t === -100 || (p.mask && !p.mask[i]) ? -1 : Math.abs((t === k ? 1 : 0) - probs[i][k])
    ).filter((e) => e >= 0).sort((a, b) => a - b);
    for (let j = 0; j < err.length; j++) {
      if (err[j] < 1e-3 || err[j] > 1 - 1e-3) return false; // near a zero row's 0 or 1
      if (j > 0 && err[j] - err[j - 1] < 1e-3) return false;
    }
  }
  return true;
}

for (const [label, make] of PAPER) {
  gpuTest(
    `webgpu paper ${label}: fused and composed equal the CPU (value and gradient)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(problems({ minC: 6, maxC: 6, maxN: 5, mask: true }), async (p) => {
          fc.pre(!label.startsWith("lovasz") || apart(p));
          const ref = await valueAndGradOn(make(false), p);
          for (const fused of [true, false]) {
            const mask = p.mask;
            const loss = make(fused);
            const withMask: LossFn = (z, t) =>
              loss(z, t, mask ? { mask: tensor(mask, { backend: z.backend.name }) } : {});
            const gpu = await run(withMask, p.logits.flat(), p.targets, [p.targets.length, 6]);
            assertClose(gpu.value, ref.value, { ...TOL, msg: `${label} fused=${fused}` });
            assertClose(gpu.grad, ref.grad, { ...TOL, msg: `${label} fused=${fused}` });
          }
        }),
        { numRuns: 6 },
      );
    },
  );
}

gpuTest("webgpu paper lovaszHinge: fused equals the CPU", async () => {
  const logits = [2, -1, 0.5, 0.3, -3, 0.6, 1, -0.2];
  const targets = [1, -100, 1, 0, 0, 1, -100, -100];
  // The hinge has one logit per position: logits and targets are both [2, 4].
  const z64 = tensor(logits, { dtype: "float64", backend: "cpu", shape: [2, 4] });
  const t64 = tensor(targets, { dtype: "int32", backend: "cpu", shape: [2, 4] });
  const [v64, g64] = valueAndGrad((x: Tensor) => lovaszHinge({ masking: "paper" })(x, t64))(z64);
  const ref = { value: await v64.item(), grad: await g64.data() };
  for (const fused of [true, false]) {
    const z = tensor(logits, { backend: "webgpu", shape: [2, 4] });
    const t = tensor(targets, { dtype: "int32", backend: "webgpu", shape: [2, 4] });
    const [v, g] = valueAndGrad((x: Tensor) => lovaszHinge({ masking: "paper", fused })(x, t))(z);
    assertClose(await v.item(), ref.value, TOL);
    assertClose(await g.data(), ref.grad, TOL);
  }
});

gpuTest("webgpu combine paper: the trainer window, [B, T, C] batches", async () => {
  const B = 3, T = 7, C = 6;
  const logits = Array.from({ length: B * T * C }, (_, i) => Math.sin(i * 0.77) * 3);
  const targets = [
    [-100, -100, 1, 3, 2, 0, 4],
    [3, 1, 0, 2, 2, 1, 5],
    [-100, -100, -100, 0, 1, 3, 4],
  ].flat();
  const answerMask = [[0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1, 1]].flat();
  for (const x of ["focal", "gdice", "lovasz"]) {
    const make = (fused: boolean) =>
      combine({
        terms: [
          [crossEntropy({ fused }), 0.6],
          [
            x === "focal"
              ? focal({ fused })
              : x === "gdice"
              ? generalizedDice({ fused })
              : lovaszSoftmax({ fused }),
            0.4,
            { mask: "answer" },
          ],
        ],
        masking: "paper",
      });
    const ref = await runCpu(make(false), logits, targets, [B, T, C], { answerMask });
    for (const fused of [true, false]) {
      const gpu = await run(make(fused), logits, targets, [B, T, C], { answerMask });
      assertClose(gpu.value, ref.value, { ...TOL, msg: `${x} fused=${fused}` });
      assertClose(gpu.grad, ref.grad, { ...TOL, msg: `${x} fused=${fused}` });
    }
  }
});

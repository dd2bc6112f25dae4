// DFT, the probability family and tempered focal on WebGPU (float32), fused kernel and
// composed ops, against the CPU float64 result on random [B, T, C] shapes with dimensions of
// size 1 (one sequence, one position, one class) and ignored or masked positions.
import fc from "fast-check";
import {
  dynamicFineTuning,
  type LossFn,
  type Masking,
  probabilityLoss,
  temperedFocal,
  type Tensor,
  tensor,
  valueAndGrad,
} from "../../mod.ts";
import { assertClose } from "../_assert.ts";
import { gpuTest } from "../gpu/_util.ts";

const TOL = { rtol: 2e-4, atol: 2e-5 };

const LOSSES: [string, (fused: boolean, masking: Masking) => LossFn][] = [
  ["dynamicFineTuning", (fused, masking) => dynamicFineTuning({ fused, masking })],
  ["probabilityLoss(a=0.7)", (fused, masking) => probabilityLoss({ fused, masking, a: 0.7 })],
  ["probabilityLoss(a=1e-6)", (fused, masking) => probabilityLoss({ fused, masking, a: 1e-6 })],
  ["temperedFocal", (fused, masking) => temperedFocal({ fused, masking })],
  [
    "temperedFocal(gamma=1.5, temperature=0.3)",
    (fused, masking) => temperedFocal({ fused, masking, gamma: 1.5, temperature: 0.3 }),
  ],
];

/** A random problem of shape [B, T, C] with each of B, T, C often 1. */
const shaped = fc.record({
  b: fc.constantFrom(1, 1, 2, 3),
  t: fc.constantFrom(1, 1, 2, 5),
  c: fc.constantFrom(1, 2, 7, 40),
}).chain(({ b, t, c }) =>
  fc.record({
    shape: fc.constant([b, t, c]),
    logits: fc.array(fc.double({ min: -8, max: 8, noNaN: true }), {
      minLength: b * t * c,
      maxLength: b * t * c,
    }),
    targets: fc.array(
      fc.oneof(
        { arbitrary: fc.integer({ min: 0, max: c - 1 }), weight: 4 },
        { arbitrary: fc.constant(-100), weight: 1 },
      ),
      { minLength: b * t, maxLength: b * t },
    ),
    mask: fc.array(fc.constantFrom(0, 1, 1, 1), { minLength: b * t, maxLength: b * t }),
  })
);

interface Shaped {
  shape: number[];
  logits: number[];
  targets: number[];
  mask: number[];
}

async function valueAndGradAt(
  loss: LossFn,
  p: Shaped,
  backend: "cpu" | "webgpu",
): Promise<{ value: number; grad: ArrayLike<number> }> {
  const dtype = backend === "cpu" ? "float64" : "float32";
  const positions = p.shape.slice(0, -1);
  const z = tensor(p.logits, { dtype, backend, shape: p.shape });
  const t = tensor(p.targets, { dtype: "int32", backend, shape: positions });
  const mask = tensor(p.mask, { dtype, backend, shape: positions });
  const [v, g] = valueAndGrad((x: Tensor) => loss(x, t, { mask }))(z);
  const [value, grad] = await Promise.all([v.item(), g.data()]);
  for (const x of [z, t, mask, v, g]) x.dispose();
  return { value, grad };
}

for (const [label, make] of LOSSES) {
  for (const masking of ["exclude", "paper"] as const) {
    gpuTest(
      `webgpu ${label} (${masking}): fused and composed equal the CPU on [B, T, C] with size-1 dims`,
      async () => {
        await fc.assert(
          fc.asyncProperty(shaped, async (p) => {
            const ref = await valueAndGradAt(make(false, masking), p, "cpu");
            for (const fused of [true, false]) {
              const gpu = await valueAndGradAt(make(fused, masking), p, "webgpu");
              const msg = `${label} ${masking} fused=${fused} shape [${p.shape}]`;
              assertClose(gpu.value, ref.value, { ...TOL, msg });
              assertClose(gpu.grad, ref.grad, { ...TOL, msg });
            }
          }),
          { numRuns: 5 },
        );
      },
    );
  }
}

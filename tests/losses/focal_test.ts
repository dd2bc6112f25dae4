import fc from "fast-check";
import { crossEntropy, focal, type Tensor, valueAndGrad, ValueError } from "../../mod.ts";
import { assertClose, assertThrows } from "../_assert.ts";
import { f64, i32, problems, RUNS, tensorsOf, valueAndGradOn, valueOn } from "./_helpers.ts";
import { counted, refFocal } from "./_reference.ts";

Deno.test("focal: the JSDoc example, 0.25 log 2", async () => {
  assertClose(
    await valueOn(focal({ gamma: 2 }), { logits: [[0, 0]], targets: [1] }),
    0.25 * Math.log(2),
    {
      rtol: 1e-12,
    },
  );
});

Deno.test("focal: gamma 0 equals cross-entropy, value and gradient", async () => {
  await fc.assert(
    fc.asyncProperty(problems({ mask: true, scale: 30 }), async (p) => {
      const a = await valueAndGradOn(focal({ gamma: 0 }), p);
      const b = await valueAndGradOn(crossEntropy(), p);
      assertClose(a.value, b.value, { rtol: 1e-14, atol: 0 });
      assertClose(a.grad, b.grad, { rtol: 1e-14, atol: 0 });
    }),
    RUNS,
  );
});

Deno.test("focal: focal / cross-entropy is (1 - p_t)^gamma at every position", async () => {
  await fc.assert(
    fc.asyncProperty(problems(), fc.double({ min: 0, max: 5, noNaN: true }), async (p, gamma) => {
      const { logits, targets } = tensorsOf(p);
      const fl = await focal({ gamma, reduction: "none" })(logits, targets).data();
      const ce = await crossEntropy({ reduction: "none" })(logits, targets).data();
      const pt = await logits.softmax().data();
      const c = p.logits[0].length;
      for (const i of counted(p)) {
        const factor = Math.pow(1 - pt[i * c + p.targets[i]], gamma);
        assertClose(fl[i], ce[i] * factor, { rtol: 1e-9, atol: 1e-300 });
      }
    }),
    RUNS,
  );
});

Deno.test("focal: per-class alpha weights each position by a_t", async () => {
  await fc.assert(
    fc.asyncProperty(
      problems({ minC: 3, maxC: 3, mask: true }),
      fc.array(fc.double({ min: 0, max: 3, noNaN: true }), { minLength: 3, maxLength: 3 }),
      async (p, alpha) => {
        assertClose(await valueOn(focal({ alpha }), p), refFocal(p, 2, alpha), {
          rtol: 1e-10,
          atol: 1e-14,
        });
      },
    ),
    RUNS,
  );
});

Deno.test("focal: gamma below 1 keeps gradients finite where p_t rounds to 1", async () => {
  const z = f64([[60, 0, 0], [0, 1, 2]]);
  const t = i32([0, 2]);
  const [v, g] = valueAndGrad((x: Tensor) => focal({ gamma: 0.5 })(x, t))(z);
  const grad = await g.data();
  assertClose(await v.item(), refFocal({ logits: [[60, 0, 0], [0, 1, 2]], targets: [0, 2] }, 0.5), {
    rtol: 1e-12,
  });
  if (!grad.every(Number.isFinite)) throw new Error(`non-finite gradient ${grad}`);
});

Deno.test("focal: bad options are ValueErrors naming the field", () => {
  assertThrows(() => focal({ gamma: -1 }), ValueError, "gamma");
  assertThrows(() => focal({ alpha: [1, -2] }), ValueError, "alpha[1]");
  const e = assertThrows(() => focal({ alpha: [1, 2] })(f64([[1, 2, 3]]), i32([0])), ValueError);
  if (!e.message.includes("2 weights for 3 classes")) throw new Error(e.message);
});

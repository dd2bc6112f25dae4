// scaledDotProductAttention: the fused primitives (flash style, CPU reference loops here) must
// equal the composed matmul-softmax-matmul in value and gradient, and the fused backward must
// match central finite differences in float64, over random shapes with grouped-query heads,
// size-1 dimensions and masks shared by or per batch.
import fc from "fast-check";
import * as lf from "../../mod.ts";
import { assert, assertClose, assertEquals } from "../_assert.ts";
import { gradcheck } from "../_gradcheck.ts";
import { F64, RUNS } from "./_prop.ts";
import { type AttentionCase, attentionCaseArb, maskShape } from "../_attention_cases.ts";

type Case = AttentionCase;
const caseArb = attentionCaseArb(
  fc.integer({ min: 1, max: 4 }),
  fc.integer({ min: 1, max: 5 }),
  fc.integer({ min: 1, max: 4 }),
);

/**
 * Inputs of a case on the CPU in `dtype`; the mask hides random keys with `hide` (-20 for
 * float64 comparisons: -1e9 + x rounds x to 1e-7, which finite differences cannot see past).
 */
export function inputs(c: Case, dtype: lf.DType = "float64", hide = -20) {
  const r = lf.rng(c.seed);
  const opt = { rng: r, dtype, backend: "cpu" as const };
  const q = lf.randn([c.b, c.hkv * c.group, c.t, c.d], opt);
  const k = lf.randn([c.b, c.hkv, c.tk, c.d], opt);
  const v = lf.randn([c.b, c.hkv, c.tk, c.d], opt);
  const shape = maskShape(c);
  let mask: lf.Tensor | undefined;
  if (c.mask !== "none") {
    const n = shape.reduce((x, y) => x * y, 1);
    const vals = Array.from({ length: n }, () => (r.uniform() < 0.3 ? hide : r.uniform() - 0.5));
    mask = lf.tensor(vals, { shape, dtype, backend: "cpu" });
  }
  return { q, k, v, mask };
}

Deno.test("fused attention equals the composed form, forward and backward (float64, cpu)", async () => {
  await fc.assert(
    fc.asyncProperty(caseArb, async (c) => {
      const { q, k, v, mask } = inputs(c);
      const w = lf.randn([c.b, c.hkv * c.group, c.t, c.d], { ...F64, rng: lf.rng(c.seed + 1) });
      const loss = (fused: boolean) => (xs: lf.Tensor[]) =>
        lf.scaledDotProductAttention(xs[0], xs[1], xs[2], { mask, fused, causal: c.causal }).mul(w)
          .sum();
      const [fv, fg] = lf.valueAndGrad(loss(true))([q, k, v]);
      const [cv, cg] = lf.valueAndGrad(loss(false))([q, k, v]);
      assertClose([await fv.item()], [await cv.item()], { rtol: 1e-10, atol: 1e-12 });
      for (let i = 0; i < 3; i++) {
        assertClose(await fg[i].data(), await cg[i].data(), {
          rtol: 1e-9,
          atol: 1e-11,
          msg: `grad ${"qkv"[i]} ${JSON.stringify(c)}`,
        });
      }
    }),
    { numRuns: RUNS },
  );
});

Deno.test("fused attention gradient matches central differences (float64, cpu)", async () => {
  await fc.assert(
    fc.asyncProperty(caseArb, async (c) => {
      const { q, k, v, mask } = inputs(c);
      const w = lf.randn([c.b, c.hkv * c.group, c.t, c.d], { ...F64, rng: lf.rng(c.seed + 2) });
      await gradcheck(
        (xs) =>
          lf.scaledDotProductAttention(xs[0], xs[1], xs[2], { mask, fused: true }).mul(w).sum(),
        [q, k, v],
        // h = 1e-5: at 1e-6 the rounding noise of a sum of O(10) (1e-9) reaches tol · floor.
        { h: 1e-5, msg: `attention ${JSON.stringify(c)}` },
      );
    }),
    { numRuns: 40 },
  );
});

Deno.test("attention: a mask that needs a gradient, and gradients of gradients, go composed", async () => {
  const c: Case = {
    b: 2,
    hkv: 1,
    group: 2,
    t: 3,
    tk: 3,
    d: 2,
    mask: "batch",
    causal: false,
    seed: 4,
  };
  const { q, k, v, mask } = inputs(c);
  await gradcheck(
    (xs) => lf.scaledDotProductAttention(xs[0], xs[1], xs[2], { mask: xs[3], fused: true }).sum(),
    [q, k, v, mask!.mul(0.1)],
    { msg: "attention with a trainable mask" },
  );
  // d/dq of Σ (d/dq Σ attention)² exercises the backward under recording.
  const inner = (x: lf.Tensor) =>
    lf.grad((y: lf.Tensor) =>
      lf.scaledDotProductAttention(y, k, v, { fused: true }).square().sum()
    )(
      x,
    );
  await gradcheck((xs) => inner(xs[0]).square().sum(), [q], { msg: "second order", tol: 1e-5 });
});

Deno.test("attention with -1e9 masks (fully masked rows included) equals the composed form", async () => {
  for (const seed of [1, 2, 3]) {
    const c: Case = {
      b: 2,
      hkv: 2,
      group: 2,
      t: 3,
      tk: 2,
      d: 3,
      mask: "batch",
      causal: false,
      seed,
    };
    const { q, k, v, mask } = inputs(c, "float64", -1e9);
    const loss = (fused: boolean) => (xs: lf.Tensor[]) =>
      lf.scaledDotProductAttention(xs[0], xs[1], xs[2], { mask, fused }).square().sum();
    const [fv, fg] = lf.valueAndGrad(loss(true))([q, k, v]);
    const [cv, cg] = lf.valueAndGrad(loss(false))([q, k, v]);
    assertClose([await fv.item()], [await cv.item()], { rtol: 1e-9 });
    for (let i = 0; i < 3; i++) {
      assertClose(await fg[i].data(), await cg[i].data(), { rtol: 1e-6, atol: 1e-6 });
    }
  }
});

Deno.test("causal attention equals an explicit causal mask, with a cache of past keys", async () => {
  for (const [t, tk] of [[4, 4], [3, 7], [1, 5]]) {
    const c: Case = { b: 2, hkv: 1, group: 2, t, tk, d: 3, mask: "batch", causal: true, seed: t };
    const { q, k, v, mask } = inputs(c);
    const causal = new Float64Array(t * tk);
    for (let i = 0; i < t; i++) for (let j = i + tk - t + 1; j < tk; j++) causal[i * tk + j] = -1e9;
    const both = mask!.add(lf.tensor(causal, { ...F64, shape: [1, 1, t, tk] }));
    const want = lf.scaledDotProductAttention(q, k, v, { mask: both, fused: false });
    for (const fused of [true, false]) {
      const got = lf.scaledDotProductAttention(q, k, v, { mask, causal: true, fused });
      assertClose(await got.data(), await want.data(), { rtol: 1e-12, msg: `${t}x${tk} ${fused}` });
    }
  }
  let msg = "";
  try {
    lf.scaledDotProductAttention(
      lf.zeros([1, 1, 3, 2], F64),
      lf.zeros([1, 1, 2, 2], F64),
      lf.zeros([1, 1, 2, 2], F64),
      { causal: true },
    );
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("causal") && msg.includes("T 3, Tk 2"), msg);
});

Deno.test("attention matches nn.attend and a hand-written softmax(q kᵀ/√d) v", async () => {
  const q = lf.tensor([[[[1, 0], [0, 1]]]], F64), k = lf.tensor([[[[1, 0], [0, 2]]]], F64);
  const v = lf.tensor([[[[1, 2], [3, 4]]]], F64);
  const got = await lf.scaledDotProductAttention(q, k, v, { fused: true }).data();
  const s = Math.SQRT1_2;
  const row = (a: number, b: number) => {
    const ea = Math.exp(a * s), eb = Math.exp(b * s);
    return [(ea * 1 + eb * 3) / (ea + eb), (ea * 2 + eb * 4) / (ea + eb)];
  };
  assertClose(got, [...row(1, 0), ...row(0, 2)], { rtol: 1e-12 });
  const viaAttend = await lf.attend(q, k, v).data(); // [B, T, H·d] with one head
  assertClose(viaAttend, got, { rtol: 1e-12 });
});

Deno.test("attention rejects shapes that do not fit, naming them", () => {
  const x = lf.zeros([1, 2, 3, 4], F64);
  const bad: [lf.Tensor, lf.Tensor, lf.Tensor][] = [
    [lf.zeros([2, 3, 4], F64), x, x],
    [x, lf.zeros([1, 2, 3, 5], F64), x],
    [lf.zeros([1, 3, 3, 4], F64), x, x],
    [x, x, lf.zeros([2, 2, 3, 4], F64)],
  ];
  for (const [q, k, v] of bad) {
    let msg = "";
    try {
      lf.scaledDotProductAttention(q, k, v);
    } catch (e) {
      msg = (e as Error).message;
    }
    assert(msg.startsWith("scaledDotProductAttention:") && msg.includes("["), msg);
  }
  assertEquals(lf.scaledDotProductAttention(x, x, x, { fused: true }).shape, [1, 2, 3, 4]);
  let dmsg = "";
  try {
    lf.scaledDotProductAttention(x, x.cast("float32"), x);
  } catch (e) {
    dmsg = `${(e as Error).name}: ${(e as Error).message}`;
  }
  assert(dmsg.includes("DTypeError") && dmsg.includes("float64, float32, float64"), dmsg);
});

Deno.test("setFusedAttention picks the path for calls that do not say (the cpu prefers composed)", () => {
  const cpu = lf.backendInstance("cpu");
  const q = lf.randn([1, 1, 2, 2], { ...F64, rng: lf.rng(3) });
  // The composed form leaves more intermediates alive until its scope ends than the fused
  // op's output and log-sum-exp: count the buffers a call made.
  const run = () =>
    lf.scope(() => {
      const n0 = cpu.memory().buffers;
      lf.scaledDotProductAttention(q, q, q);
      return cpu.memory().buffers - n0;
    });
  try {
    lf.setFusedAttention(true);
    const fused = run();
    lf.setFusedAttention(false);
    const composed = run();
    lf.setFusedAttention(null);
    assertEquals(run(), composed);
    assert(fused < composed, `fused made ${fused} buffers, composed ${composed}`);
  } finally {
    lf.setFusedAttention(null);
  }
});

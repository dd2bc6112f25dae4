// trainStep against the same step written out by hand, accumulation, clipping and the guard.
import {
  adamw,
  clipFactor,
  globalNorm,
  liveTensors,
  sgd,
  type Tensor,
  tensor,
  trainStep,
  treeDispose,
  valueAndGrad,
} from "../../mod.ts";
import { assert, assertEquals } from "../_assert.ts";

type P = { w: Tensor };
const loss = (p: P, x: Tensor) => p.w.mul(x).sub(1).square().sum();

Deno.test("trainStep: the mean over micro-batches, clipped, then the optimizer's update", async () => {
  const optimizer = adamw({ lr: 0.1 });
  const params: P = { w: tensor([0.5, -1]) };
  const state = optimizer.init(params);
  const xs = [tensor([1, 2]), tensor([3, -1]), tensor([0.5, 4])];
  const r = trainStep(params, state, xs, { loss, optimizer, clip: 0.5 });
  // By hand: the sums in order, times 1/3, the norm, clipping's factor into the update.
  const parts = xs.map((x) => valueAndGrad(loss)(params, x));
  const k = 1 / 3;
  const l = parts[0][0].add(parts[1][0]).add(parts[2][0]).mul(k);
  const g = { w: parts[0][1].w.add(parts[1][1].w).add(parts[2][1].w).mul(k) };
  const norm = globalNorm(g);
  const want = optimizer.update(g, state, params, clipFactor(norm, 0.5));
  assertEquals(Array.from(await r.params.w.data()), Array.from(await want.params.w.data()));
  assertEquals(await r.loss.item(), await l.item());
  assertEquals(await r.gradNorm.item(), await norm.item());
  assertEquals(r.state.step, 1);
});

Deno.test("trainStep: an optimizer without gradScale gets the clipped gradients", async () => {
  const optimizer = { ...sgd({ lr: 1 }), acceptsGradScale: false };
  const params: P = { w: tensor([0, 0]) };
  // loss = (w·x - 1)² at w = 0 has gradient -2x = [-6, -8], norm 10, clipped to norm 1.
  const r = trainStep(params, optimizer.init(params), [tensor([3, 4])], {
    loss,
    optimizer,
    clip: 1,
  });
  const w = await r.params.w.data();
  assert(Math.abs(w[0] - 0.6) < 1e-5 && Math.abs(w[1] - 0.8) < 1e-5, `w = ${w}`);
});

Deno.test("trainStep: skipNonFinite keeps the old params; nothing else outlives it", async () => {
  const optimizer = adamw({ lr: 0.1 });
  const params: P = { w: tensor([1, 2]) };
  const state = optimizer.init(params);
  const before = liveTensors();
  const bad = trainStep(params, state, [tensor([Infinity, 1])], {
    loss,
    optimizer,
    skipNonFinite: true,
  });
  assertEquals(Array.from(await bad.params.w.data()), [1, 2]);
  assertEquals(bad.state.step, 1);
  treeDispose([bad.params, bad.state.slots, bad.loss, bad.gradNorm]);
  assertEquals(liveTensors(), before + 1); // the batch tensor made in the call's argument
});

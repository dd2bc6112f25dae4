// The CPU backend reuses freed arrays. A reused array keeps its old contents, so every
// primitive must write all of its output: training with every freed array filled with NaN
// first (`cpuPoolDebug.poison`) must give bit-identical losses, gradients and updates.
import * as lf from "../../mod.ts";
import { bufferPool, cpuPoolDebug, cpuPoolLimits } from "../../src/cpu/buffer_pool.ts";
import { assert, assertEquals } from "../_assert.ts";

/** A few training steps that reach every CPU primitive a model and the losses use. */
async function workload(): Promise<number[]> {
  await lf.setBackend("cpu");
  const seen: number[] = [];
  const models: lf.LanguageModel<lf.ParamTree>[] = [
    lf.gpt({ vocab: 17, context: 6, layers: 1, dim: 8, heads: 2 }) as lf.LanguageModel<
      lf.ParamTree
    >,
    lf.llama({
      vocab: 17,
      context: 6,
      layers: 1,
      dim: 8,
      heads: 2,
      kvHeads: 1,
      hidden: 16,
    }) as lf.LanguageModel<lf.ParamTree>,
  ];
  const losses = [
    lf.crossEntropy({ labelSmoothing: 0.1 }),
    lf.focal(),
    lf.lovaszSoftmax(),
    lf.generalizedDice(),
    lf.tversky({ alpha: 0.3, beta: 0.7 }),
  ];
  for (const model of models) {
    let params = model.init(lf.rng(3));
    const opt = lf.adamw({ lr: 1e-2 });
    let state = opt.init(params);
    const data = lf.rng(4);
    for (let step = 0; step < 3; step++) {
      const ids = Int32Array.from({ length: 12 }, () => data.int(17));
      const targets = ids.map((_, j) => (j % 6 === 5 ? -100 : ids[j + 1]));
      const loss = losses[step % losses.length];
      const out = lf.scope(() => {
        const b = {
          ids: lf.tensor(ids, { shape: [2, 6] }),
          targets: lf.tensor(targets, { shape: [2, 6] }),
        };
        const f = (p: typeof params, x: typeof b) =>
          loss(model.apply(p, x.ids, { training: false }), x.targets);
        return lf.trainStep(params, state, [b], { loss: f, optimizer: opt, clip: 1 });
      });
      lf.keep(out);
      seen.push(await out.loss.item(), await out.gradNorm.item());
      out.loss.dispose();
      out.gradNorm.dispose();
      lf.treeDispose(params);
      lf.treeDispose(state.slots);
      params = out.params;
      state = out.state;
    }
    for (const leaf of lf.treeLeaves(params)) seen.push(...await leaf.data());
    lf.treeDispose(params);
    lf.treeDispose(state.slots);
  }
  return seen;
}

Deno.test("cpu pool: training with every freed array poisoned gives bit-identical results", async () => {
  const clean = await workload();
  cpuPoolDebug.poison = true;
  try {
    const poisoned = await workload();
    assertEquals(poisoned.length, clean.length);
    const differ = poisoned.findIndex((v, i) => !Object.is(v, clean[i]));
    assert(
      differ < 0,
      `value ${differ}: ${poisoned[differ]} with poison, ${clean[differ]} without`,
    );
  } finally {
    cpuPoolDebug.poison = false;
  }
});

Deno.test("cpu pool: reuses its own arrays by dtype and length, never an adopted one or one twice", () => {
  const pool = bufferPool();
  const a = pool.take("float32", 4);
  pool.give(a);
  pool.give(a); // freed twice: still handed out once
  assert(pool.take("float32", 4) === a, "same dtype and length: reused");
  assert(pool.take("float32", 4) !== a, "a second take gets a new array");
  pool.give(a);
  assert(pool.take("float64", 4) !== a && pool.take("float32", 5) !== a, "other keys miss");
  const bits = pool.take("bfloat16", 3);
  pool.give(bits);
  assert(pool.take("float16", 3) === bits, "both half dtypes are Uint16Array storage");
  assert(pool.take("float32", 4) === a, "still pooled after the misses");
  const foreign = new Float32Array(8);
  pool.give(foreign);
  assertEquals(pool.bytes(), 0);
  assert(pool.take("float32", 8) !== foreign, "an array the pool did not make is not reused");
});

Deno.test("cpu pool: holds at most cpuPoolLimits.bytes, dropping the least recently used", () => {
  const saved = cpuPoolLimits.bytes;
  cpuPoolLimits.bytes = 64;
  try {
    const pool = bufferPool();
    const [x, y, z] = [pool.take("float32", 8), pool.take("float64", 4), pool.take("int32", 8)];
    pool.give(x);
    pool.give(y);
    assertEquals(pool.bytes(), 64);
    pool.give(z); // over the limit: x, the oldest, goes
    assertEquals(pool.bytes(), 64);
    assert(pool.take("float32", 8) !== x, "evicted");
    assert(pool.take("float64", 4) === y && pool.take("int32", 8) === z, "kept");
  } finally {
    cpuPoolLimits.bytes = saved;
  }
});

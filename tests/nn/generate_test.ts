// Generation with a KV cache against full recomputation, EOS handling and sampling.
import {
  generate,
  gpt,
  type LanguageModel,
  liveTensors,
  llama,
  type ParamTree,
  rng,
  scope,
  tensor,
  treeDispose,
} from "../../mod.ts";
import { assert, assertEquals } from "./_assert.ts";

/** Greedy decoding that reruns the whole sequence every step: no cache, no padding. */
async function recompute<P extends ParamTree>(
  model: LanguageModel<P>,
  params: P,
  prompt: number[],
  steps: number,
): Promise<number[]> {
  const seq = [...prompt], out: number[] = [];
  for (let s = 0; s < steps; s++) {
    const logits = scope(() => {
      const all = model.apply(params, tensor([seq], { dtype: "int32" }));
      return all.slice([0, seq.length - 1]);
    });
    const row = await logits.data();
    logits.dispose();
    let best = 0;
    for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
    out.push(best);
    seq.push(best);
  }
  return out;
}

const prompts = [[5, 3, 8, 1], [2], [7, 7, 4]];
const models = {
  llama: llama({ vocab: 23, dim: 16, layers: 2, heads: 4, kvHeads: 2, hidden: 24, initStd: 0.3 }),
  gpt: gpt({ vocab: 23, context: 16, layers: 2, dim: 16, heads: 4, initStd: 0.3 }),
};

for (const [name, model] of Object.entries(models) as [string, LanguageModel][]) {
  Deno.test(`${name}: batched KV-cache generation equals full recomputation`, async () => {
    const params = model.init(rng(11));
    const before = liveTensors();
    const got = await generate(model, params, prompts, { maxNewTokens: 6 });
    assertEquals(liveTensors(), before, "generate frees everything it made");
    for (let i = 0; i < prompts.length; i++) {
      assertEquals(got[i], await recompute(model, params, prompts[i], 6), `prompt ${i}`);
    }
    treeDispose(params);
  });
}

Deno.test("generation stops each sequence at EOS and keeps the EOS token", async () => {
  const model = models.llama;
  const params = model.init(rng(11));
  const free = await generate(model, params, prompts, { maxNewTokens: 6 });
  // Use the third token of the first continuation as EOS: that row must stop there.
  const eos = free[0][2];
  const got = await generate(model, params, prompts, { maxNewTokens: 6, eos });
  for (let i = 0; i < prompts.length; i++) {
    const stop = free[i].indexOf(eos);
    assertEquals(got[i], stop < 0 ? free[i] : free[i].slice(0, stop + 1), `row ${i}`);
  }
  treeDispose(params);
});

Deno.test("sampling is reproducible by seed and topK 1 is greedy", async () => {
  const model = models.gpt;
  const params = model.init(rng(5));
  const opts = { maxNewTokens: 5, temperature: 1.5 };
  const a = await generate(model, params, prompts, { ...opts, rng: rng(9) });
  const b = await generate(model, params, prompts, { ...opts, rng: rng(9) });
  assertEquals(a, b);
  const greedy = await generate(model, params, prompts, { maxNewTokens: 5 });
  assertEquals(await generate(model, params, prompts, { ...opts, topK: 1 }), greedy);
  // Learned positions end at the context: generation stops there.
  const long = await generate(model, params, [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]], {
    maxNewTokens: 50,
  });
  assert(long[0].length === 16 - 10 + 1, `got ${long[0].length} tokens`);
  treeDispose(params);
});

Deno.test("a prompt tensor and an empty prompt", async () => {
  const model = models.llama;
  const params = model.init(rng(1));
  const ids = tensor([[5, 3, 8, 1]], { dtype: "int32" });
  assertEquals(
    await generate(model, params, ids, { maxNewTokens: 3 }),
    await generate(model, params, [[5, 3, 8, 1]], { maxNewTokens: 3 }),
  );
  await generate(model, params, [[]], { maxNewTokens: 3 }).then(
    () => assert(false, "expected an error"),
    (e) => assert(String(e).includes("at least one token"), String(e)),
  );
  treeDispose(params);
});

Deno.test("generate without a cache: a plain module, and recompute on a language model", async () => {
  const model = models.llama;
  const params = model.init(rng(3));
  // A model with forward, told to recompute, gives the per-prompt recomputed answers.
  const got = await generate(model, params, prompts, { maxNewTokens: 5, recompute: true });
  for (let i = 0; i < prompts.length; i++) {
    assertEquals(got[i], await recompute(model, params, prompts[i], 5), `prompt ${i}`);
  }
  // A module with only init/apply recomputes by itself; eos ends a row (and is returned).
  const plain = { init: model.init, apply: model.apply };
  const j = got[0].findIndex((id, i) => i > 0 && !got[0].slice(0, i).includes(id));
  assert(j > 0, "the answer has a token to stop at");
  const stopped = await generate(plain, params, prompts, { maxNewTokens: 5, eos: got[0][j] });
  assertEquals(stopped[0], got[0].slice(0, j + 1));
  // `context` stops a row once it holds that many tokens.
  const short = await generate(plain, params, [[5, 3, 8, 1]], { maxNewTokens: 5, context: 6 });
  assertEquals(short[0], got[0].slice(0, 2));
});

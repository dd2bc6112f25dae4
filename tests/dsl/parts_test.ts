import {
  BatchStream,
  buildPart,
  byteTokenizer,
  checkPartSpec,
  describe,
  evaluate,
  exactMatchEval,
  gsm8kSyntheticData,
  inlineData,
  pipeline,
  registerSchedule,
  syntheticData,
  train,
  treeDispose,
} from "../../mod.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { bigram } from "./_tiny.ts";

Deno.test("BatchStream: a restored position yields the same batches; epochs reshuffle", () => {
  const ex = Array.from({ length: 10 }, (_, i) => ({ prompt: `p${i}`, target: `t${i}` }));
  const opts = { batchSize: 3, maxLength: 8, seed: 5 };
  const a = new BatchStream(ex, byteTokenizer(), opts);
  assertEquals(a.batchesPerEpoch, 3);
  const firstEpoch = [a.next(), a.next(), a.next()].map((b) => Array.from(b.ids).join());
  const pos = a.position;
  assertEquals(pos, { epoch: 0, index: 9 });
  const b = new BatchStream(ex, byteTokenizer(), opts, pos);
  const [x, y] = [a.next(), b.next()];
  assertEquals(Array.from(x.ids), Array.from(y.ids));
  assertEquals(a.position, { epoch: 1, index: 3 });
  assert(Array.from(x.ids).join() !== firstEpoch[0], "epoch 1 has a new order");
  assertThrows(() => new BatchStream(ex.slice(0, 2), byteTokenizer(), opts), RangeError, "larger");
});

Deno.test("registry: buildPart stamps specs; describe keeps functions working", () => {
  registerSchedule("test-halving", (o) => (s) => (o.lr as number) / 2 ** s);
  const s = buildPart("schedule", { kind: "test-halving", options: { lr: 1 } });
  assertEquals([s(2), s.spec], [0.25, { kind: "test-halving", options: { lr: 1 } }]);
  assertThrows(() => buildPart("schedule", "nope"), TypeError, 'unknown schedule "nope"');
  assertEquals(checkPartSpec("loss", 5)[0].message, "must be a loss or a { kind, options } spec");
  const f = describe(Object.assign((x: number) => x + 1, { extra: 1 }), { kind: "inc" });
  assertEquals([f(1), f.extra, f.spec.kind], [2, 1, "inc"]);
  const frozen = describe(Object.freeze({ a: 1 }), { kind: "frozen" });
  assertEquals([frozen.a, frozen.spec.kind], [1, "frozen"]);
});

Deno.test("data sources: synthetic and inline load; specs round-trip", async () => {
  const d = gsm8kSyntheticData({ seed: 3, count: 5, evalCount: 2, maxLength: 64 });
  const { train: tr, eval: ev } = await d.load();
  assertEquals([tr.length, ev.length, d.maxLength, d.spec?.kind], [5, 2, 64, "gsm8kSynthetic"]);
  const again = buildPart("data", d.spec!);
  assertEquals((await again.load()).train, tr);
  // The old names stay: the function alias, and the kind, which builds under the new name.
  assert(syntheticData === gsm8kSyntheticData);
  const old = buildPart("data", { kind: "gsm8k-synthetic", options: d.spec!.options });
  assertEquals([old.spec.kind, (await old.load()).train], ["gsm8kSynthetic", tr]);
  const inline = inlineData({ train: [{ prompt: "a", target: "b" }], maxLength: 4 });
  assertEquals(inline.spec?.options?.train, [{ prompt: "a", target: "b" }]);
});

Deno.test("evaluate: exact match with greedy generation, generic model and GPT", async () => {
  const data = inlineData({
    train: [{ prompt: "x", target: "#### 1" }],
    eval: [{ prompt: "x", target: "#### 1" }, { prompt: "y", target: "#### 2" }],
    maxLength: 16,
  });
  for (
    const model of [
      bigram({ vocab: 259, dim: 4 }),
      { kind: "gpt", options: { vocab: 259, context: 16, layers: 1, dim: 8, heads: 2 } },
    ]
  ) {
    const p = pipeline({
      model,
      loss: "ce",
      optimizer: { kind: "sgd", options: { lr: 0.1 } },
      data,
      eval: exactMatchEval({ maxNewTokens: 3 }),
      steps: 1,
      batchSize: 1,
    });
    const r = await train(p, { progress: false, handleSigint: false });
    assertEquals(r.eval?.count, 2);
    const m = await evaluate(p, r.params, { examples: [{ prompt: "x", target: "#### 1" }] });
    assertEquals(m.count, 1);
    assert(m.exactMatch === 0 || m.exactMatch === 1);
    treeDispose(r.params);
    treeDispose(r.optState);
  }
});

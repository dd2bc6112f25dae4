// A tiny model, loss and data for DSL tests: an embedding + linear bigram model is enough
// to show learning in a few dozen steps on a 2-core CPU.
import {
  describe,
  embedding,
  inlineData,
  type ModelLike,
  type PipelineSpec,
  randn,
  registerModel,
  type Tensor,
} from "../../mod.ts";

export type BigramParams = { emb: Tensor; out: Tensor };

/** An embedding [V, D] followed by a projection [D, V]. */
export function bigram(options: { vocab: number; dim: number }): ModelLike<BigramParams> {
  const { vocab, dim } = options;
  const model: ModelLike<BigramParams> = {
    init: (r) => ({
      emb: randn([vocab, dim], { rng: r, std: 0.1 }),
      out: randn([dim, vocab], { rng: r, std: 0.1 }),
    }),
    apply: (p, ids) => embedding(p.emb, ids).matmul(p.out),
  };
  return describe(model, { kind: "test-bigram", options: { vocab, dim } });
}

registerModel("test-bigram", (o) => bigram(o as { vocab: number; dim: number }) as ModelLike);

/** Repetitive strings a bigram model learns quickly. */
export function tinyData(maxLength = 16): ReturnType<typeof inlineData> {
  const train = Array.from({ length: 32 }, (_, i) => ({
    prompt: "ab".repeat(1 + (i % 3)),
    target: "abab",
  }));
  return inlineData({ train, eval: train.slice(0, 4), maxLength });
}

/** A small, fully serialisable pipeline spec. */
export function tinySpec(overrides: Partial<PipelineSpec> = {}): PipelineSpec {
  return {
    model: { kind: "test-bigram", options: { vocab: 259, dim: 8 } },
    loss: "ce",
    optimizer: { kind: "adamw", options: { lr: 0.05, weightDecay: 0 } },
    data: tinyData(),
    steps: 30,
    batchSize: 4,
    logEvery: 5,
    seed: 1,
    ...overrides,
  };
}

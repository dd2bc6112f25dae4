/**
 * A small GPT trained by `trainStep` (the DSL's step: valueAndGrad, global-norm clip, AdamW)
 * on fresh random ids each step, the targets being the ids shifted by one. Shared by
 * bench/memory.ts, bench/train.ts and the WebGPU memory test, which must measure the same
 * loop.
 * @module
 */
import * as lf from "../mod.ts";
import type { GptConfig, Tensor } from "../mod.ts";

/** Steps one tiny GPT; `dispose` frees its parameters and optimizer state. */
export interface GptTrainer {
  /** Runs one step and returns its loss (the caller disposes it). */
  step(): Tensor;
  /** Frees the parameters and optimizer state. */
  dispose(): void;
}

/** A trainer for `cfg` with `batch` sequences per step (init seed 0, data seed 1). */
export function gptTrainer(cfg: GptConfig, batch: number): GptTrainer {
  const model = lf.gpt(cfg);
  let params = model.init(lf.rng(0));
  const optimizer = lf.adamw({ lr: 3e-3, weightDecay: 0.01 });
  let state = optimizer.init(params);
  const ce = lf.crossEntropy();
  const data = lf.rng(1);
  const t = cfg.context;
  const loss = (p: typeof params, b: { ids: Tensor; targets: Tensor }) =>
    ce(model.apply(p, b.ids, { training: true }), b.targets);
  return {
    step() {
      const ids = new Int32Array(batch * t);
      for (let i = 0; i < ids.length; i++) ids[i] = data.int(cfg.vocab);
      const targets = new Int32Array(ids.length);
      for (let i = 0; i < ids.length; i++) targets[i] = (i + 1) % t === 0 ? -100 : ids[i + 1];
      const out = lf.scope(() => {
        const b = {
          ids: lf.tensor(ids, { shape: [batch, t] }),
          targets: lf.tensor(targets, { shape: [batch, t] }),
        };
        return lf.trainStep(params, state, [b], { loss, optimizer, clip: 1 });
      });
      lf.keep(out);
      out.gradNorm.dispose();
      lf.treeDispose(params);
      lf.treeDispose(state.slots);
      params = out.params;
      state = out.state;
      return out.loss;
    },
    dispose() {
      lf.treeDispose(params);
      lf.treeDispose(state.slots);
    },
  };
}

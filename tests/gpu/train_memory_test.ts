// GPU memory stays flat over a training run of a transformer: 200 AdamW steps of a tiny GPT
// (attention, layer norm, cross-entropy, clipping: the DSL's `trainStep`) hold the same pool
// bytes after step 100 as at the end, and reuse their bind groups instead of making new ones
// (a step's buffers must come back with the same ids each step for the cache to hit).
import * as lf from "../../mod.ts";
import type { WebGpuBackend } from "../../mod.ts";
import { gptTrainer } from "../../bench/_gpt_trainer.ts";
import { gpuTest } from "./_util.ts";

gpuTest(
  "webgpu pool bytes grow < 5% after step 100 of 200 GPT training steps; bind groups reused",
  async () => {
    await lf.setBackend("webgpu");
    try {
      const gpu = lf.backendInstance("webgpu") as WebGpuBackend;
      const cfg = { vocab: 32, context: 8, layers: 1, dim: 16, heads: 2 };
      const trainer = gptTrainer(cfg, 2);
      const held = () => {
        const s = gpu.stats();
        return { bytes: s.liveBytes + s.pooledBytes, bindGroups: s.bindGroupsCreated };
      };
      let at100 = { bytes: 0, bindGroups: 0 };
      let first = NaN, last = NaN;
      for (let i = 1; i <= 200; i++) {
        const loss = trainer.step();
        // Read back every 10 steps, as the DSL's progress does.
        if (i % 10 === 0) {
          const v = await loss.item();
          if (i === 10) first = v;
          last = v;
        }
        loss.dispose();
        if (i === 100) {
          await gpu.done();
          at100 = held();
        }
      }
      await gpu.done();
      const end = held();
      const growth = (end.bytes - at100.bytes) / at100.bytes;
      if (!(growth < 0.05)) {
        throw new Error(
          `pool bytes grew ${
            (100 * growth).toFixed(2)
          }% after step 100: ${at100.bytes} -> ${end.bytes}`,
        );
      }
      const made = end.bindGroups - at100.bindGroups;
      if (made > 100) {
        throw new Error(`${made} bind groups were made in steps 101-200 (at most 100 expected)`);
      }
      if (!(last < first)) throw new Error(`loss did not fall: ${first} -> ${last}`);
      trainer.dispose();
    } finally {
      await lf.setBackend("cpu");
    }
  },
);

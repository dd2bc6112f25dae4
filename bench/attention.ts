/**
 * Fused (flash-style) attention against the composed matmul-softmax-matmul, forward +
 * backward, on the chosen backend, with a causal mask: time per call (best of interleaved
 * rounds) and the bytes of the `[B, H, T, Tk]` intermediates the composed form keeps for the
 * backward (the fused one keeps a `[B, H, T]` log-sum-exp instead).
 *
 *   deno run -A bench/attention.ts [--backend webgpu|cpu] [--shapes S,M,long] [--rounds 3]
 *
 * Shapes `[B, H, T, d]`: S 16×4×128×32 and M 32×8×256×64 (`bench/train.ts`'s configurations), long
 * 2×8×1024×64.
 * @module
 */
import { parseArgs } from "node:util";
import * as lf from "../mod.ts";
import type { Tensor, WebGpuBackend } from "../mod.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string" },
    shapes: { type: "string" },
    rounds: { type: "string" },
  },
});
const SHAPES: Record<string, [number, number, number, number]> = {
  S: [16, 4, 128, 32],
  M: [32, 8, 256, 64],
  long: [2, 8, 1024, 64],
};
const backend = (args.values.backend ?? "webgpu") as lf.BackendName;
await lf.setBackend(backend);
const gpu = backend === "webgpu" ? lf.backendInstance("webgpu") as WebGpuBackend : null;
const rounds = Number(args.values.rounds ?? 3);
const names = args.values.shapes?.split(",") ?? ["S", "M"];
const info = gpu ? gpu.context.info.description : "cpu backend";
console.log(`attention fwd+bwd on ${backend} (${info}); load ${Deno.loadavg()[0].toFixed(2)}`);
console.log("| shape [B,H,T,d] | composed ms | fused ms | composed / fused | score bytes kept |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const name of names) {
  const [b, h, t, d] = SHAPES[name];
  const r = lf.rng(1);
  const q = lf.randn([b, h, t, d], { rng: r }), k = lf.randn([b, h, t, d], { rng: r });
  const v = lf.randn([b, h, t, d], { rng: r });
  const m = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) m[i * t + j] = -1e9;
  const mask = lf.tensor(m, { shape: [1, 1, t, t] });
  const w = lf.randn([b, h, t, d], { rng: r });
  const step = (fused: boolean) => {
    const [loss, g] = lf.valueAndGrad((xs: Tensor[]) =>
      lf.scaledDotProductAttention(xs[0], xs[1], xs[2], { mask, fused, causal: true }).mul(w).sum()
    )([q, k, v]);
    return [loss, ...g];
  };
  const time = async (fused: boolean) => {
    const t0 = performance.now();
    const outs = step(fused);
    await outs[0].data();
    const ms = performance.now() - t0;
    for (const x of outs) x.dispose();
    return ms;
  };
  const best = { composed: Infinity, fused: Infinity };
  await time(false);
  await time(true);
  for (let i = 0; i < rounds; i++) {
    best.composed = Math.min(best.composed, await time(false));
    best.fused = Math.min(best.fused, await time(true));
  }
  // Composed keeps scores-sized tensors for the backward: the probabilities and the masked,
  // scaled scores' inputs (three [B, H, T, T] float32 tensors on the tape).
  const kept = 3 * b * h * t * t * 4;
  console.log(
    `| ${name} ${b}×${h}×${t}×${d} | ${best.composed.toFixed(1)} | ${best.fused.toFixed(1)} | ` +
      `${(best.composed / best.fused).toFixed(2)} | ${(kept / 2 ** 20).toFixed(0)} MiB vs ${
        (b * h * t * 4 / 2 ** 20).toFixed(2)
      } MiB |`,
  );
  for (const x of [q, k, v, mask, w]) x.dispose();
}

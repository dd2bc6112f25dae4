/**
 * Memory over a long training run: a small GPT trained with AdamW and cross-entropy by
 * `trainStep` (the DSL's step: valueAndGrad, global-norm clip, AdamW) for `--steps` steps.
 * At step `--at` (100) and at the end it records the WebGPU pool's bytes (buffers handed out
 * plus buffers idle in the pool: everything the engine holds on the device) and the host's
 * resident memory (RSS), and fails when either grew by `--limit` (5%) or more since step
 * `--at`. The loss is read back every 10 steps, as the DSL's progress does.
 *
 *   deno run -A bench/memory.ts [--backend cpu|webgpu] [--steps 1000] [--at 100]
 *                               [--dim 32] [--layers 2] [--heads 2] [--context 16]
 *                               [--vocab 64] [--batch 4] [--limit 0.05] [--json out.json]
 *                               [--v8-defaults]
 *
 * V8 sizes its young generation by how much survives its collections, doubling it in steps
 * (measured here: 16 MiB at step 100, 32 at step 200, 64 from step 350 on, its maximum), and
 * its old generation holds garbage until the next full collection. Neither is a leak, but
 * together they add some 70 MiB of RSS between step 100 and step 400 of the default model
 * and then stop. So the script runs itself again with the young generation at its final size
 * from the start (`--min-semi-space-size`, `--max-semi-space-size`) and a full collection
 * before each sample (`--expose-gc`): what still grows after step 100 is memory that is
 * held. `--v8-defaults` measures under V8's own settings instead (and shows the young
 * generation's share of the growth).
 * @module
 */
import { parseArgs } from "node:util";
import { getHeapSpaceStatistics } from "node:v8";
import * as lf from "../mod.ts";
import type { BackendName } from "../mod.ts";
import { gptTrainer } from "./_gpt_trainer.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string" },
    steps: { type: "string", default: "1000" },
    at: { type: "string", default: "100" },
    dim: { type: "string", default: "32" },
    layers: { type: "string", default: "2" },
    heads: { type: "string", default: "2" },
    context: { type: "string", default: "16" },
    vocab: { type: "string", default: "64" },
    batch: { type: "string", default: "4" },
    limit: { type: "string", default: "0.05" },
    json: { type: "string" },
    "v8-defaults": { type: "boolean" },
  },
});

/** V8 flags of a measurement: young generation at its final size, full GC on request. */
const V8_FLAGS = "--expose-gc,--min-semi-space-size=32,--max-semi-space-size=32";
const collect = (globalThis as { gc?: () => void }).gc;
if (!collect && !args.values["v8-defaults"]) {
  const self = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--v8-flags=${V8_FLAGS}`, new URL(import.meta.url).pathname, ...Deno.args],
    stdout: "inherit",
    stderr: "inherit",
  });
  Deno.exit((await self.output()).code);
}

function int(name: keyof typeof args.values): number {
  const v = Number(args.values[name]);
  if (!Number.isInteger(v) || v < 1) {
    throw new Error(`--${name}: expected a positive integer, got "${args.values[name]}"`);
  }
  return v;
}

const steps = int("steps"), at = int("at");
if (at >= steps) throw new Error(`--at ${at} must be below --steps ${steps}`);
const limit = Number(args.values.limit);
const cfg = {
  vocab: int("vocab"),
  context: int("context"),
  layers: int("layers"),
  dim: int("dim"),
  heads: int("heads"),
};
const batch = int("batch");

const backend: BackendName = (args.values.backend as BackendName | undefined) ??
  await lf.autoSelectBackend();
await lf.setBackend(backend);
const gpu = backend === "webgpu" ? lf.backendInstance("webgpu") as lf.WebGpuBackend : null;

/** What the engine holds on the device: live buffers plus idle pooled ones (0 on cpu). */
function poolBytes(): number {
  if (!gpu) return 0;
  const s = gpu.stats();
  return s.liveBytes + s.pooledBytes;
}

interface Sample {
  step: number;
  poolBytes: number;
  liveBuffers: number;
  rss: number;
  heapUsed: number;
  /** V8's young generation (bytes reserved): it grows in steps up to its maximum. */
  newSpace: number;
  loss: number;
}

const trainer = gptTrainer(cfg, batch);

/** The bytes V8 has reserved for one of its heap spaces. */
function heapSpace(name: string): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === name)?.space_size ?? 0;
}

async function sample(i: number, l: number): Promise<Sample> {
  // Everything queued has run, so the pool's figure is the steady one, not a batch's peak.
  if (gpu) await gpu.done();
  collect?.();
  const m = Deno.memoryUsage();
  const live = gpu ? gpu.stats().liveBuffers : lf.backendInstance(backend).memory().buffers;
  return {
    step: i,
    poolBytes: poolBytes(),
    liveBuffers: live,
    rss: m.rss,
    heapUsed: m.heapUsed,
    newSpace: heapSpace("new_space"),
    loss: l,
  };
}

const mib = (b: number) => (b / 2 ** 20).toFixed(1);
const desc = gpu ? gpu.context.info.description : "cpu backend";
console.log(
  `backend ${backend} (${desc}); gpt ${JSON.stringify(cfg)}, batch ${batch}; ${steps} steps; ` +
    (collect ? `V8 flags ${V8_FLAGS}` : "V8 defaults"),
);
const t0 = performance.now();
let lastLoss = NaN;
let first: Sample | undefined, mid: Sample | undefined, end: Sample | undefined;
// Half-way too: growth in the second half tells a one-time rise from a steady leak.
const half = Math.max(at + 1, Math.floor(steps / 2));
for (let i = 1; i <= steps; i++) {
  const l = trainer.step();
  if (i % 10 === 0 || i === at || i === steps) lastLoss = await l.item();
  l.dispose();
  if (i === at) first = await sample(i, lastLoss);
  if (i === half) mid = await sample(i, lastLoss);
  if (i === steps) end = await sample(i, lastLoss);
  if (i % 100 === 0) {
    const m = Deno.memoryUsage();
    console.log(
      `step ${i}: loss ${lastLoss.toFixed(4)}, pool ${poolBytes()} B, rss ${mib(m.rss)} MiB ` +
        `(V8 young generation ${mib(heapSpace("new_space"))}, old ${
          mib(heapSpace("old_space"))
        }), ${((performance.now() - t0) / i).toFixed(1)} ms/step`,
    );
  }
}
trainer.dispose();

const growth = (a: number, b: number) => a === 0 ? (b === 0 ? 0 : Infinity) : (b - a) / a;
const poolGrowth = growth(first!.poolBytes, end!.poolBytes);
const rssGrowth = growth(first!.rss, end!.rss);
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
console.log(
  gpu
    ? `pool bytes: ${first!.poolBytes} at step ${at}, ${end!.poolBytes} at step ${steps} ` +
      `(${pct(poolGrowth)})`
    : `live cpu buffers: ${first!.liveBuffers} at step ${at}, ${end!.liveBuffers} at step ${steps}`,
);
console.log(
  `rss: ${mib(first!.rss)} MiB at step ${at}, ${mib(end!.rss)} MiB at step ${steps} ` +
    `(${pct(rssGrowth)}); of it V8's young generation ${mib(first!.newSpace)} -> ${
      mib(end!.newSpace)
    } MiB, V8's live heap ${mib(first!.heapUsed)} -> ${mib(end!.heapUsed)} MiB`,
);
const secondHalf = growth(mid!.rss, end!.rss);
console.log(
  `rss in the second half: ${mib(mid!.rss)} MiB at step ${half}, ${mib(end!.rss)} MiB at ` +
    `step ${steps} (${pct(secondHalf)})`,
);
if (args.values.json) {
  await Deno.writeTextFile(
    args.values.json,
    JSON.stringify({
      backend,
      adapter: desc,
      cfg,
      batch,
      steps,
      first,
      mid,
      end,
      poolGrowth,
      rssGrowth,
      secondHalf,
    }),
  );
}
const bad = [
  poolGrowth >= limit ? `pool bytes grew ${pct(poolGrowth)}` : "",
  rssGrowth >= limit ? `rss grew ${pct(rssGrowth)}` : "",
].filter(Boolean);
if (bad.length) {
  console.error(`memory is not flat after step ${at}: ${bad.join(", ")} (limit ${pct(limit)})`);
  Deno.exitCode = 1;
}

/**
 * Training throughput: a GPT trained with AdamW and cross-entropy on random ids (next-token
 * prediction) by `trainStep`, the step the DSL's `train` runs (valueAndGrad, global-norm clip,
 * AdamW), in tokens per second on the chosen backend. Configurations:
 *
 * - S: vocab 256, context 128, 4 layers, dim 128, 4 heads, batch 16
 * - M: vocab 8,192, context 256, 8 layers, dim 512, 8 heads, batch 32 (skipped on a CPU
 *   fallback adapter and on the cpu backend unless named with --config)
 * - flagship: examples/gsm8k.ts's model: vocab 259, context 128, 2 layers, dim 96, 4 heads,
 *   batch 16
 *
 * It also checks that the loss after k steps equals the unfused engine's: the same steps
 * run again with `LOSSFORGE_FUSED=0` semantics (`setFusedOps(false)`), from the same seed.
 *
 *   deno run -A bench/train.ts [--backend cpu|webgpu] [--config S,flagship] [--steps 5]
 *                              [--profile] [--no-check] [--json out.json] [--cpu-threads 1,2]
 *                              [--attention fused|composed]
 *
 * `--attention fused|composed` forces the attention path (`setFusedAttention`; default: the
 * backend's preference).
 *
 * `--cpu-threads 1,2` times each configuration once per thread count of the CPU backend's
 * matmul (`setCpuThreads`), in the same run, and prints each against the first.
 *
 * `--profile` wraps every backend primitive with a timer (on webgpu the time is host-side
 * recording only; dispatch counts are exact) and prints the costliest ops with shapes.
 * @module
 */
import { parseArgs } from "node:util";
import * as lf from "../mod.ts";
import type { Backend, BackendName, Tensor } from "../mod.ts";
import { fusedOpsEnabled, setFusedOps } from "../src/autograd/fused.ts";
import type { EngineBackend } from "../src/gpu/backend.ts";
import type { Kernel } from "../src/gpu/engine.ts";
import { gptTrainer } from "./_gpt_trainer.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string" },
    config: { type: "string" },
    steps: { type: "string" },
    warmup: { type: "string" },
    profile: { type: "boolean" },
    "no-check": { type: "boolean" },
    json: { type: "string" },
    "cpu-threads": { type: "string" },
    attention: { type: "string" },
  },
});

interface Config {
  name: string;
  vocab: number;
  context: number;
  layers: number;
  dim: number;
  heads: number;
  batch: number;
}
const CONFIGS: Record<string, Config> = {
  S: { name: "S", vocab: 256, context: 128, layers: 4, dim: 128, heads: 4, batch: 16 },
  M: { name: "M", vocab: 8192, context: 256, layers: 8, dim: 512, heads: 8, batch: 32 },
  flagship: { name: "flagship", vocab: 259, context: 128, layers: 2, dim: 96, heads: 4, batch: 16 },
};

const backend: BackendName = (args.values.backend as BackendName | undefined) ??
  await lf.autoSelectBackend();
await lf.setBackend(backend);
if (args.values.attention) {
  if (!["fused", "composed"].includes(args.values.attention)) {
    throw new Error(`--attention: "${args.values.attention}" is not fused or composed`);
  }
  lf.setFusedAttention(args.values.attention === "fused");
}
const impl = lf.backendInstance(backend);
const gpu = backend === "webgpu" ? impl as EngineBackend : null;
const fallback = gpu ? gpu.context.info.isFallbackAdapter : true;
const adapter = gpu ? gpu.context.info.description : "cpu backend";
const named = args.values.config?.split(",");
const configs = (named ?? ["flagship", "S", ...(fallback ? [] : ["M"])]).map((n) => {
  const c = CONFIGS[n];
  if (!c) throw new Error(`--config: unknown "${n}" (S, M, flagship)`);
  return c;
});
const steps = Number(args.values.steps ?? 5);
const warmup = Number(args.values.warmup ?? 2);

// ---------------------------------------------------------------- profiling

interface Prof {
  calls: number;
  ms: number;
}
const prof = new Map<string, Prof>();
let profiling = false;

function wrapBackend(b: Backend): void {
  const rec = b as unknown as Record<string, unknown>;
  for (const key of Object.keys(rec)) {
    const f = rec[key];
    if (typeof f !== "function" || ["read", "memory", "flush", "free"].includes(key)) continue;
    rec[key] = (...a: unknown[]) => {
      if (!profiling) return (f as (...x: unknown[]) => unknown).apply(b, a);
      const t0 = performance.now();
      const r = (f as (...x: unknown[]) => unknown).apply(b, a);
      const ms = performance.now() - t0;
      const label = describe(key, a);
      const p = prof.get(label) ?? { calls: 0, ms: 0 };
      p.calls++;
      p.ms += ms;
      prof.set(label, p);
      return r;
    };
  }
}

function describe(key: string, a: unknown[]): string {
  const sh = (x: unknown) => Array.isArray(x) ? `[${x.join(",")}]` : "";
  switch (key) {
    case "unary":
      return `unary ${a[0]} n=${a[2]}`;
    case "binary":
      return `binary ${a[0]} ${sh(a[2])}${sh(a[4])}`;
    case "matmul": {
      const s = a[2] as lf.MatmulSpec;
      return `matmul ${s.transA ? "T" : "N"}${s.transB ? "T" : "N"} b=${
        s.outBatch.reduce((x, y) => x * y, 1)
      } ${s.m}x${s.k}x${s.n}`;
    }
    case "reduce":
      return `reduce ${a[0]} ${sh(a[2])} axes=${sh(a[3])}`;
    case "fill":
      return `fill n=${a[0]}`;
    case "strided":
      return `strided ${sh(a[1])}`;
    case "softmax":
      return `softmax ${sh(a[1])}${a[3] ? " log" : ""}`;
    default: {
      const shapes = a.filter(Array.isArray).map(sh).join("");
      return `${key} ${shapes}`;
    }
  }
}

interface Traced {
  label: string;
  k: Kernel;
  inputs: number[];
  outputs: number[];
  params: Uint32Array | null;
  groups: readonly [number, number, number];
  count: number;
}
const traced = new Map<string, Traced>();

/** Records every dispatch of the profiled steps (deduplicated by kernel, sizes and params). */
function startTrace(g: EngineBackend): void {
  g.engine.trace = (op, k, inputs, outputs, params, groups) => {
    const key = `${k.key}|${inputs.map((b) => b.byteLength)}|${outputs.map((b) => b.byteLength)}|${
      params ? Array.from(params).join(",") : ""
    }|${groups}`;
    const t = traced.get(key);
    if (t) t.count++;
    else {
      traced.set(key, {
        label: `${op} ${k.key} out=${outputs.map((b) => b.byteLength / 4)} grid=${groups}`,
        k,
        inputs: inputs.map((b) => b.byteLength),
        outputs: outputs.map((b) => b.byteLength),
        params: params ? params.slice() : null,
        groups,
        count: 1,
      });
    }
  };
}

/** Replays each traced dispatch alone and times it on the GPU; prints the costliest. */
async function replayTrace(g: EngineBackend, perStep: number): Promise<void> {
  g.engine.trace = null;
  const e = g.engine;
  const rows: { label: string; ms: number; count: number }[] = [];
  for (const t of traced.values()) {
    const ins = t.inputs.map((n) => e.alloc("replay", Math.max(n, 4)));
    const outs = t.outputs.map((n) => e.alloc("replay", Math.max(n, 4)));
    const reps = 3;
    await g.done();
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) e.dispatch("replay", t.k, ins, outs, t.params, t.groups);
    await g.done();
    // One GPU wait costs about 11 ms on Deno whatever the work; measure and subtract it.
    const t1 = performance.now();
    await g.done();
    const wait = performance.now() - t1;
    const each = Math.max(0, (t1 - t0 - wait) / reps);
    rows.push({ label: t.label, ms: each * t.count / perStep, count: t.count / perStep });
    for (const b of [...ins, ...outs]) e.release(b);
  }
  traced.clear();
  rows.sort((a, b) => b.ms - a.ms);
  const total = rows.reduce((s, r) => s + r.ms, 0);
  console.log(`  GPU replay: ${total.toFixed(0)} ms/step in kernels (each replayed alone)`);
  for (const r of rows.slice(0, 30)) {
    console.log(
      `  ${r.ms.toFixed(2).padStart(8)} ms ${r.count.toFixed(0).padStart(4)}x  ${r.label}`,
    );
  }
  const byKey = new Map<string, { ms: number; count: number }>();
  for (const r of rows) {
    const k = r.label.split(" ").slice(0, 2).join(" ");
    const q = byKey.get(k) ?? { ms: 0, count: 0 };
    q.ms += r.ms;
    q.count += r.count;
    byKey.set(k, q);
  }
  console.log("  by kernel:");
  for (const [k, q] of [...byKey.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 20)) {
    console.log(`  ${q.ms.toFixed(2).padStart(8)} ms ${q.count.toFixed(0).padStart(4)}x  ${k}`);
  }
}

// ---------------------------------------------------------------- training step

/** The shared small-GPT training loop (seed 0 init, seed 1 data) at config `c`'s size. */
function trainer(c: Config) {
  const { vocab, context, layers, dim, heads } = c;
  return gptTrainer({ vocab, context, layers, dim, heads }, c.batch);
}

async function sync(x: Tensor): Promise<number> {
  return (await x.data())[0];
}

interface Result {
  config: string;
  cpuThreads?: number;
  tokensPerStep: number;
  msPerStep: number;
  tokensPerSecond: number;
  loss: number;
  unfusedLoss?: number;
  dispatchesPerStep?: number;
}

async function measure(c: Config): Promise<Result> {
  const tr = trainer(c);
  const tokens = c.batch * c.context;
  for (let i = 0; i < warmup; i++) await sync(tr.step());
  const d0 = gpu?.stats().dispatches ?? 0;
  const t0 = performance.now();
  let last: Tensor | undefined;
  profiling = !!args.values.profile;
  if (profiling && gpu) startTrace(gpu);
  for (let i = 0; i < steps; i++) {
    last?.dispose();
    last = tr.step();
    // The DSL reads losses back every few steps; one read per step bounds queued work here.
    if (gpu) gpu.flush();
  }
  profiling = false;
  const loss = await sync(last!);
  const ms = (performance.now() - t0) / steps;
  const dispatches = gpu ? (gpu.stats().dispatches - d0) / steps : undefined;
  if (args.values.profile && gpu) await replayTrace(gpu, steps);
  last!.dispose();
  tr.dispose();
  return {
    config: c.name,
    tokensPerStep: tokens,
    msPerStep: ms,
    tokensPerSecond: tokens / (ms / 1000),
    loss,
    dispatchesPerStep: dispatches,
  };
}

/** Loss after k steps, fused vs unfused, from the same seed. */
async function lossAfter(c: Config, k: number, fused: boolean): Promise<number> {
  const was = fusedOpsEnabled();
  setFusedOps(fused);
  try {
    const tr = trainer(c);
    let last: Tensor | undefined;
    for (let i = 0; i < k; i++) {
      last?.dispose();
      last = tr.step();
    }
    const v = await sync(last!);
    last!.dispose();
    tr.dispose();
    return v;
  } finally {
    setFusedOps(was);
  }
}

if (args.values.profile) wrapBackend(impl);
const load = Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
console.log(
  `backend ${backend} (${adapter}); load ${load}; ${steps} steps after ${warmup} warm-up; ` +
    `fused ops ${fusedOpsEnabled() ? "on" : "off"}; attention ${
      args.values.attention ?? "backend default"
    }`,
);
const threadCounts = args.values["cpu-threads"]?.split(",").map(Number) ?? [undefined];
const results: Result[] = [];
const skipped: { config: string; error: string }[] = [];
for (const c of configs) {
  let first: Result | undefined;
  for (const th of threadCounts) {
    if (th !== undefined) lf.setCpuThreads(th);
    let r: Result;
    try {
      r = await measure(c);
    } catch (e) {
      // A configuration this adapter cannot hold (M's 268 MB logits on a 128 MiB binding
      // limit) is reported, and the others still run.
      console.log(`${c.name}: not run: ${(e as Error).message}`);
      skipped.push({ config: c.name, error: (e as Error).message });
      break;
    }
    if (th !== undefined) r.cpuThreads = th;
    if (!args.values["no-check"] && !first) {
      const k = 3;
      const a = await lossAfter(c, k, true);
      const b = await lossAfter(c, k, false);
      r.unfusedLoss = b;
      const rel = Math.abs(a - b) / Math.max(1e-12, Math.abs(b));
      console.log(
        `${c.name}: loss after ${k} steps fused ${a.toFixed(6)} unfused ${b.toFixed(6)} ` +
          `(relative difference ${rel.toExponential(2)})`,
      );
      if (!(rel < 1e-3)) throw new Error(`${c.name}: fused and unfused losses differ`);
    }
    if (first && r.loss !== first.loss) {
      throw new Error(`${c.name}: loss ${r.loss} with ${th} threads, ${first.loss} with first`);
    }
    results.push(r);
    console.log(
      `${c.name}${th !== undefined ? ` (${th} cpu threads)` : ""}: ` +
        `${r.msPerStep.toFixed(0)} ms/step, ${r.tokensPerSecond.toFixed(0)} tokens/s` +
        (r.dispatchesPerStep !== undefined
          ? `, ${r.dispatchesPerStep.toFixed(0)} dispatches/step`
          : "") +
        `, loss ${r.loss.toFixed(4)}` +
        (first ? `; ${(r.tokensPerSecond / first.tokensPerSecond).toFixed(2)}x the first` : ""),
    );
    first ??= r;
    if (args.values.profile) {
      const rows = [...prof.entries()].sort((x, y) => y[1].ms - x[1].ms);
      const total = rows.reduce((s, [, p]) => s + p.ms, 0);
      console.log(`  profile: ${(total / steps).toFixed(1)} ms/step inside backend primitives`);
      for (const [label, p] of rows.slice(0, 40)) {
        console.log(
          `  ${(p.ms / steps).toFixed(2).padStart(8)} ms ${
            String(p.calls / steps).padStart(5)
          }x  ${label}`,
        );
      }
      const byKind = new Map<string, Prof>();
      for (const [label, p] of rows) {
        const k = label.split(" ").slice(0, 2).join(" ");
        const q = byKind.get(k) ?? { calls: 0, ms: 0 };
        q.calls += p.calls;
        q.ms += p.ms;
        byKind.set(k, q);
      }
      console.log("  by kind:");
      for (const [k, p] of [...byKind.entries()].sort((x, y) => y[1].ms - x[1].ms).slice(0, 20)) {
        console.log(
          `  ${(p.ms / steps).toFixed(2).padStart(8)} ms ${
            String(p.calls / steps).padStart(5)
          }x  ${k}`,
        );
      }
      prof.clear();
    }
  }
}
if (args.values.json) {
  await Deno.writeTextFile(
    args.values.json,
    JSON.stringify({ backend, adapter, load, steps, results, skipped }, null, 2) + "\n",
  );
}

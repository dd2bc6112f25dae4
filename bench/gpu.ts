/**
 * The GPU benchmark set, in one call: matmul GFLOP/s (all four transpose combinations), the
 * 128x128 matmul kernel for large products against the 64x64 tile (1024³ to 8192³ on a GPU,
 * 512³ only on a software adapter; `--big-only` runs just that comparison), a
 * memory-bound elementwise op in GB/s, the engine's overhead per op against a raw WebGPU
 * dispatch loop of the same kernel, and each fused kernel (layer norm, GELU and softmax,
 * forward and backward) against the composed ops it replaces (measured in the same run,
 * reported as ratios), fused (flash-style, causal) attention forward and backward against the
 * composed form (`bench/train.ts`'s S and M head shapes and a long context), and the matmul kernels `tuneMatmul` picks for a small GPT's training
 * products against the fixed rule's (`--tune-only` runs just that comparison).
 *
 *   deno run -A bench/gpu.ts [--quick] [--json results.json] [--big-only | --tune-only]
 *
 * Every timing waits for the GPU (onSubmittedWorkDone, which Deno resolves on a polling
 * interval of about 11 ms), so each measurement runs enough work to make that small.
 * @module
 */
import { parseArgs } from "node:util";
import * as lf from "../mod.ts";
import { type Product, TRAINING_PRODUCTS } from "./_products.ts";
import type { Tensor } from "../mod.ts";
import { setFusedOps } from "../src/autograd/fused.ts";
import { softwareKernels } from "../src/gpu/kernels/common.ts";
import { setMatmulTile, TILE_DEFAULT } from "../src/gpu/matmul/kernels.ts";
import { setBigMatmul } from "../src/gpu/matmul/big.ts";
import { adapterId, tuned } from "../src/gpu/matmul/table.ts";
import type { EngineBackend } from "../src/gpu/backend.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean" },
    json: { type: "string" },
    "big-only": { type: "boolean" },
    "tune-only": { type: "boolean" },
  },
});
const quick = args.values.quick ?? false;
const tuneOnly = args.values["tune-only"] ?? false;
// --tune-only skips every other section, as --big-only does.
const bigOnly = (args.values["big-only"] ?? false) || tuneOnly;

await lf.setBackend("webgpu");
const gpu = lf.backendInstance("webgpu") as EngineBackend;
const info = gpu.context.info;
const device = gpu.context.device;

interface Row {
  bench: string;
  size: string;
  value: number;
  unit: string;
  note: string;
}
const rows: Row[] = [];

/** Seconds per repetition of `run` (after one warm-up), waiting for the GPU each time. */
async function timeIt(run: () => void, minSeconds: number, maxReps = 50): Promise<number> {
  run();
  await gpu.done();
  let reps = 0;
  const t0 = performance.now();
  while (reps < maxReps) {
    run();
    reps++;
    await gpu.done();
    if ((performance.now() - t0) / 1000 >= minSeconds) break;
  }
  return (performance.now() - t0) / 1000 / reps;
}

// ---------------------------------------------------------------- engine overhead
// First, while the process is fresh: after the large matmuls the host-side times doubled on
// the software adapter (heap and pool state), which measured the benchmark, not the engine.
if (!bigOnly) {
  const ops = 1000;
  const n = 256;
  const x = lf.rand([n]), y = lf.rand([n]);
  // Through the Tensor API: op dispatch, param packing, pooled buffers, bind-group cache.
  const engineRun = () => {
    lf.scope(() => {
      for (let i = 0; i < ops; i++) lf.add(x, y);
    });
  };
  // The raw loop: the same compiled kernel, one prepared bind group, one pass, one submit.
  const e = gpu.engine;
  // Compiled by this warm-up (same-shape operands take the "flat" variant).
  engineRun();
  await gpu.done();
  const k = e.kernel("binary_add_f32_flat", () => "", 2, 1);
  const out = e.alloc("bench", n * 4);
  const params = new Uint32Array(64);
  params.set([n, 1, n, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
  const uni = device.createBuffer({
    size: 256,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(uni, 0, params);
  const bg = device.createBindGroup({
    layout: k.layout,
    entries: [
      { binding: 0, resource: { buffer: (x.buf as { buffer: GPUBuffer }).buffer } },
      { binding: 1, resource: { buffer: (y.buf as { buffer: GPUBuffer }).buffer } },
      { binding: 2, resource: { buffer: out.buffer } },
      { binding: 3, resource: { buffer: uni, size: 256 } },
    ],
  });
  const rawRun = () => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(k.pipeline);
    for (let i = 0; i < ops; i++) {
      pass.setBindGroup(0, bg, [0]);
      pass.dispatchWorkgroups(1);
    }
    pass.end();
    device.queue.submit([enc.finish()]);
  };
  // Interleaved rounds, best of each (other processes share a CPU machine's cores): the time
  // to the GPU's completion, and the host time to record the ops (the engine's own cost).
  const best = { engine: Infinity, raw: Infinity, engineHost: Infinity, rawHost: Infinity };
  for (let round = 0; round < (quick ? 5 : 15); round++) {
    for (const [name, run] of [["engine", engineRun], ["raw", rawRun]] as const) {
      await gpu.done();
      const t0 = performance.now();
      run();
      const t1 = performance.now();
      await gpu.done();
      const t2 = performance.now();
      best[name] = Math.min(best[name], (t2 - t0) / 1000);
      best[`${name}Host`] = Math.min(best[`${name}Host`], (t1 - t0) / 1000);
    }
  }
  const engineS = best.engine, rawS = best.raw;
  rows.push({
    bench: "engine overhead",
    size: `${ops} adds of ${n}`,
    value: engineS / rawS,
    unit: "x raw",
    note: `engine ${(engineS / ops * 1e6).toFixed(1)} us/op, raw ${
      (rawS / ops * 1e6).toFixed(1)
    } us/op (best of interleaved rounds); host time to record ${
      (best.engineHost / ops * 1e6).toFixed(1)
    } vs ${(best.rawHost / ops * 1e6).toFixed(1)} us/op`,
  });
  e.release(out);
  uni.destroy();
  x.dispose();
  y.dispose();
}

// ---------------------------------------------------------------- matmul 128x128 vs 64x64
// The kernel chosen for large products on hardware GPUs (src/gpu/matmul/big.ts)
// against the 64x64 tile it replaces there, both forced, same operands, all four layouts.
if (!tuneOnly) {
  const software = softwareKernels(gpu.engine);
  const bigSizes = software ? [512] : quick ? [1024, 2048] : [1024, 2048, 4096, 8192];
  const note = software ? "software adapter: 512^3 only" : "";
  const variants = [
    ["128x128 big", () => (setBigMatmul(true), setMatmulTile(null))],
    ["64x64 tile", () => (setBigMatmul(false), setMatmulTile(TILE_DEFAULT))],
  ] as const;
  for (const n of bigSizes) {
    let a: Tensor | null = null, b: Tensor | null = null;
    try {
      a = lf.randn([n, n], { rng: lf.rng(1) });
      b = lf.randn([n, n], { rng: lf.rng(2) });
      for (
        const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const
      ) {
        for (const [name, apply] of variants) {
          apply();
          const per = Math.max(1, Math.min(32, Math.round(2 ** 32 / n ** 3)));
          const s = await timeIt(
            () => {
              for (let i = 0; i < per; i++) {
                lf.matmul(a!, b!, { transposeA: ta, transposeB: tb }).dispose();
              }
            },
            quick ? 0.3 : 1,
            20,
          );
          rows.push({
            bench: `matmul ${name}`,
            size: `${n}^3 ${ta ? "T" : "N"}${tb ? "T" : "N"}`,
            value: (2 * n ** 3 * per) / s / 1e9,
            unit: "GFLOP/s",
            note: [`${(s / per * 1000).toFixed(2)} ms each`, note].filter(Boolean).join("; "),
          });
        }
      }
    } catch (e) {
      rows.push({
        bench: "matmul 128x128 vs 64x64",
        size: `${n}^3`,
        value: NaN,
        unit: "GFLOP/s",
        note: `failed: ${(e as Error).message}`,
      });
    } finally {
      setBigMatmul(null);
      setMatmulTile(null);
      a?.dispose();
      b?.dispose();
    }
  }
}

// ---------------------------------------------------------------- matmul
const sizes = bigOnly ? [] : quick ? [256, 512] : [256, 512, 1024];
if (!info.isFallbackAdapter && !quick && !bigOnly) sizes.push(2048, 4096);
for (const n of sizes) {
  const a = lf.randn([n, n], { rng: lf.rng(1) });
  const b = lf.randn([n, n], { rng: lf.rng(2) });
  for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
    // Several products per submit so the GPU wait is amortised on fast devices.
    const per = Math.max(1, Math.min(32, Math.round(2 ** 30 / n ** 3)));
    const s = await timeIt(
      () => {
        for (let i = 0; i < per; i++) lf.matmul(a, b, { transposeA: ta, transposeB: tb }).dispose();
      },
      quick ? 0.3 : 1,
      20,
    );
    const gflops = (2 * n ** 3 * per) / s / 1e9;
    rows.push({
      bench: "matmul",
      size: `${n}^3 ${ta ? "T" : "N"}${tb ? "T" : "N"}`,
      value: gflops,
      unit: "GFLOP/s",
      note: `${(s / per * 1000).toFixed(2)} ms each`,
    });
  }
  a.dispose();
  b.dispose();
}

// ---------------------------------------------------------------- matmul: tuned vs rule
// A small GPT's training products (the shapes of bench/matmul_tiles.ts: projections and MLP at
// dim 96, attention at 4 heads of 24 over 128 tokens) and one generation product (one query
// row against 128 cached keys): `tuneMatmul` picks a kernel for each, then the fixed rule's
// choice and the tuned one run through `matmulT` in interleaved rounds, best of each.
if (!bigOnly || tuneOnly) {
  const id = adapterId(info);
  // [batch, m, k, n, transA, transB]: training, then one generation product.
  const shapes: Product[] = [...TRAINING_PRODUCTS, [64, 1, 24, 128, false, true]];
  lf.clearMatmulTuning();
  const t0 = performance.now();
  const entries = await lf.tuneMatmul(
    shapes.map(([batch, m, k, n, transA, transB]) => ({ m, k, n, batch, transA, transB })),
    quick ? { rounds: 1, minMs: 30 } : { rounds: 3 },
  );
  const tuneS = (performance.now() - t0) / 1000;
  // The table just made, switched in and out around each measurement.
  const table = tuned.get(id)!;
  const useTuned = (on: boolean) => on ? tuned.set(id, table) : tuned.delete(id);
  for (let i = 0; i < shapes.length; i++) {
    const [batch, m, k, n, ta, tb] = shapes[i];
    const a = lf.randn([batch, ta ? k : m, ta ? m : k], { rng: lf.rng(1) });
    const b = lf.randn([batch, tb ? n : k, tb ? k : n], { rng: lf.rng(2) });
    const per = async (reps: number) => {
      await gpu.done();
      const t = performance.now();
      for (let r = 0; r < reps; r++) lf.matmul(a, b, { transposeA: ta, transposeB: tb }).dispose();
      await gpu.done();
      return (performance.now() - t) / 1000;
    };
    useTuned(false);
    await per(1);
    // Repetitions per measurement: at least 0.1 s of the rule's kernel (GPU waits poll).
    let reps = 1;
    while (reps < 4096 && (await per(reps)) < 0.1) reps *= 2;
    useTuned(true);
    await per(1);
    const best = { rule: Infinity, tuned: Infinity };
    for (let round = 0; round < (quick ? 3 : 5); round++) {
      for (const on of [false, true]) {
        useTuned(on);
        const s = (await per(reps)) / reps;
        if (on) best.tuned = Math.min(best.tuned, s);
        else best.rule = Math.min(best.rule, s);
      }
    }
    const e = entries[i], t = e.measured!;
    // Named as the rule's choice is (`measured.rule`), so that the two compare as strings.
    const kernel = e.kernel === "tile"
      ? `tile ${e.tile!.bm}x${e.tile!.bn}x${e.tile!.bk}/${e.tile!.tm}x${e.tile!.tn}${
        e.tile!.unroll === false ? " loop" : ""
      }`
      : e.kernel === "big"
      ? "big 128x128"
      : e.kernel;
    rows.push({
      bench: "matmul tuned vs rule",
      size: `${batch}x${m}x${k}x${n} ${ta ? "T" : "N"}${tb ? "T" : "N"}`,
      value: best.rule / best.tuned,
      unit: "x rule",
      note:
        `tuned ${kernel} ${(best.tuned * 1000).toFixed(3)} ms (${
          (2 * batch * m * k * n / best.tuned / 1e9).toFixed(2)
        } GFLOP/s), rule ${t.rule} ${(best.rule * 1000).toFixed(3)} ms` +
        (kernel === t.rule ? " (same kernel: the ratio is noise)" : "") +
        (i === 0 ? `; tuning all ${shapes.length} shapes took ${tuneS.toFixed(1)} s` : ""),
    });
    a.dispose();
    b.dispose();
  }
  lf.clearMatmulTuning();
}

// ---------------------------------------------------------------- elementwise bandwidth
if (!bigOnly) {
  const n = quick ? 1 << 20 : 1 << 22;
  const x = lf.rand([n]), y = lf.rand([n]);
  const per = 10;
  const s = await timeIt(() => {
    for (let i = 0; i < per; i++) lf.add(x, y).dispose();
  }, quick ? 0.3 : 1);
  // Two reads and one write of 4 bytes per element.
  rows.push({
    bench: "add (memory-bound)",
    size: `${n} f32`,
    value: (12 * n * per) / s / 1e9,
    unit: "GB/s",
    note: `${(s / per * 1e6).toFixed(0)} us each`,
  });
  x.dispose();
  y.dispose();
}

// ---------------------------------------------------------------- fused kernels
// Each fused path against the composed ops it replaces (LOSSFORGE_FUSED=0 semantics), in one
// run: forward and backward of layer norm, GELU and softmax at a small GPT's shapes.
if (!bigOnly) {
  const rowsN = quick ? 1024 : 4096, cols = 96;
  const x = lf.randn([rowsN, cols], { rng: lf.rng(3) });
  const w = lf.ones([cols]), b = lf.zeros([cols]);
  const h = lf.randn([rowsN, 4 * cols], { rng: lf.rng(4) });
  const att = lf.randn([quick ? 16 : 64, 128, 128], { rng: lf.rng(5) });
  const cases: [string, string, () => Tensor[]][] = [
    ["layer norm fwd+bwd", `${rowsN}x${cols}`, () => {
      const [v, g] = lf.valueAndGrad((p: Tensor[]) =>
        lf.fusedLayerNorm(p[0], p[1], p[2], 1e-5).square().sum()
      )([x, w, b]);
      return [v, ...g];
    }],
    ["gelu fwd+bwd", `${rowsN}x${4 * cols}`, () => {
      const [v, g] = lf.valueAndGrad((p: Tensor) => p.gelu().sum())(h);
      return [v, g];
    }],
    ["softmax fwd+bwd", `${att.shape.join("x")}`, () => {
      const [v, g] = lf.valueAndGrad((p: Tensor) => p.softmax(-1).square().sum())(att);
      return [v, g];
    }],
  ];
  for (const [name, size, run] of cases) {
    const time = async (on: boolean) => {
      setFusedOps(on);
      try {
        const d0 = gpu.stats().dispatches;
        run().forEach((t) => t.dispose());
        const dispatches = gpu.stats().dispatches - d0;
        const s = await timeIt(() => run().forEach((t) => t.dispose()), quick ? 0.3 : 1, 20);
        return { s, dispatches };
      } finally {
        setFusedOps(true);
      }
    };
    const fusedT = await time(true), plainT = await time(false);
    rows.push({
      bench: `fused ${name}`,
      size,
      value: plainT.s / fusedT.s,
      unit: "x composed",
      note: `fused ${(fusedT.s * 1000).toFixed(2)} ms (${fusedT.dispatches} dispatches), ` +
        `composed ${(plainT.s * 1000).toFixed(2)} ms (${plainT.dispatches} dispatches)`,
    });
  }
  for (const t of [x, w, b, h, att]) t.dispose();
}

// ---------------------------------------------------------------- attention
// Flash-style fused attention against the composed matmul-softmax-matmul, causal, forward and
// backward: `bench/train.ts`'s S and M head shapes (and a long context on a GPU; S only on a software
// adapter, where M takes seconds). bench/attention.ts has the same comparison standalone.
if (!bigOnly) {
  const shapes: [string, number[]][] = info.isFallbackAdapter || quick
    ? [["S", [16, 4, 128, 32]]]
    : [["S", [16, 4, 128, 32]], ["M", [32, 8, 256, 64]], ["long", [4, 8, 1024, 64]]];
  for (const [name, [bb, hh, t, d]] of shapes) {
    const r = lf.rng(6);
    const q = lf.randn([bb, hh, t, d], { rng: r }), k = lf.randn([bb, hh, t, d], { rng: r });
    const v = lf.randn([bb, hh, t, d], { rng: r });
    const run = (fused: boolean) => () => {
      const [val, g] = lf.valueAndGrad((p: Tensor[]) =>
        lf.scaledDotProductAttention(p[0], p[1], p[2], { causal: true, fused }).square().sum()
      )([q, k, v]);
      [val, ...g].forEach((x) => x.dispose());
    };
    const fusedS = await timeIt(run(true), quick ? 0.3 : 1, 20);
    const plainS = await timeIt(run(false), quick ? 0.3 : 1, 20);
    rows.push({
      bench: "fused attention fwd+bwd (causal)",
      size: `${name} ${bb}x${hh}x${t}x${d}`,
      value: plainS / fusedS,
      unit: "x composed",
      note: `fused ${(fusedS * 1000).toFixed(2)} ms, composed ${(plainS * 1000).toFixed(2)} ms; ` +
        `composed keeps ${(3 * bb * hh * t * t * 4 / 2 ** 20).toFixed(0)} MiB of scores`,
    });
    for (const x of [q, k, v]) x.dispose();
  }
}

// ---------------------------------------------------------------- report
const date = new Date().toISOString().slice(0, 10);
console.log(`# lossforge GPU benchmarks (${date})\n`);
console.log(
  `Adapter: ${info.description} (vendor ${info.vendor || "?"}${
    info.isFallbackAdapter ? ", CPU fallback" : ""
  }); Deno ${Deno.version.deno}; ${navigator.hardwareConcurrency} CPU threads\n`,
);
console.log("| bench | size | value | unit | note |");
console.log("|---|---|---:|---|---|");
for (const r of rows) {
  console.log(`| ${r.bench} | ${r.size} | ${r.value.toFixed(2)} | ${r.unit} | ${r.note} |`);
}
if (args.values.json) {
  await Deno.writeTextFile(
    args.values.json,
    JSON.stringify(
      { date, adapter: info.description, fallback: info.isFallbackAdapter, rows },
      null,
      2,
    ),
  );
}
export type { Tensor };

/**
 * Compares matmul tile configurations on the current adapter for the products a small GPT
 * training step runs (and a square one), in GFLOP/s: the data behind `pickTile`. The last
 * column is the 128x128 kernel for hardware GPUs (`src/gpu/matmul/big.ts`), forced on.
 *
 *   deno run -A bench/matmul_tiles.ts [--quick]
 * @module
 */
import * as lf from "../mod.ts";
import { type Product, TRAINING_PRODUCTS } from "./_products.ts";
import type { WebGpuBackend } from "../mod.ts";
import { setMatmulTile } from "../src/gpu/matmul/kernels.ts";
import type { MatmulTile } from "../src/gpu/matmul/table.ts";
import { setBigMatmul } from "../src/gpu/matmul/big.ts";

await lf.setBackend("webgpu");
const gpu = lf.backendInstance("webgpu") as WebGpuBackend;
const quick = Deno.args.includes("--quick");

const BIG = "big" as const;
const tiles: (MatmulTile | null | typeof BIG)[] = [
  null,
  { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 },
  { bm: 64, bn: 64, bk: 8, tm: 8, tn: 8 },
  { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8 },
  { bm: 128, bn: 32, bk: 8, tm: 8, tn: 8 },
  { bm: 32, bn: 128, bk: 8, tm: 8, tn: 8 },
  { bm: 128, bn: 128, bk: 16, tm: 8, tn: 8, unroll: false },
  BIG,
];
// [batch, m, k, n, transA, transB]
const shapes: Product[] = [
  ...TRAINING_PRODUCTS,
  ...(quick ? [] : [[1, 1024, 1024, 1024, false, false] as Product]),
];

const label = (t: MatmulTile | null | typeof BIG) =>
  t === BIG ? "128x128 big" : t ? `${t.bm}x${t.bn}x${t.bk}/${t.tm}x${t.tn}` : "picked";
// `picked` and the tiles run with the big kernel off, so the tile columns are the tiles.
const use = (t: MatmulTile | null | typeof BIG) => {
  setBigMatmul(t === BIG ? true : t === null ? null : false);
  setMatmulTile(t === BIG ? null : t);
};
console.log(`adapter: ${gpu.context.info.description}; load ${Deno.loadavg()[0].toFixed(2)}`);
console.log(["shape", ...tiles.map(label)].join(" | "));
for (const [b, m, k, n, ta, tb] of shapes) {
  const a = lf.randn([b, ta ? k : m, ta ? m : k], { rng: lf.rng(1) });
  const c = lf.randn([b, tb ? n : k, tb ? k : n], { rng: lf.rng(2) });
  const flops = 2 * b * m * k * n;
  const reps = Math.max(2, Math.min(50, Math.round(4e8 / flops)));
  // Interleaved rounds, best of each: other processes share the cores.
  const best = tiles.map(() => 0);
  for (let round = 0; round < 3; round++) {
    for (let ti = 0; ti < tiles.length; ti++) {
      use(tiles[ti]);
      lf.matmul(a, c, { transposeA: ta, transposeB: tb }).dispose();
      await gpu.done();
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) lf.matmul(a, c, { transposeA: ta, transposeB: tb }).dispose();
      await gpu.done();
      const s = (performance.now() - t0) / 1000;
      best[ti] = Math.max(best[ti], flops * reps / s / 1e9);
    }
  }
  const cells = best.map((g) => g.toFixed(2));
  use(null);
  console.log([`${b}x${m}x${k}x${n} ${ta ? "T" : "N"}${tb ? "T" : "N"}`, ...cells].join(" | "));
  a.dispose();
  c.dispose();
}

// The matmul kernel is generated per tile (src/gpu/matmul/kernels.ts); the adapter here picks
// some tiles, a GPU others. Every configuration the table can choose, forced in turn, must
// equal the CPU oracle on ragged sizes, all transpose combinations and a batch.
import * as lf from "../../mod.ts";
import { setMatmulTile, TILE_DEFAULT } from "../../src/gpu/matmul/kernels.ts";
import type { MatmulTile } from "../../src/gpu/matmul/table.ts";
import { assertAllClose, gpuTest, TOL } from "./_util.ts";

const tiles: MatmulTile[] = [
  TILE_DEFAULT,
  { ...TILE_DEFAULT, unroll: false },
  { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8 },
  { bm: 32, bn: 64, bk: 8, tm: 8, tn: 8 },
  { bm: 128, bn: 32, bk: 16, tm: 8, tn: 8 },
];

gpuTest("every matmul tile configuration equals cpu", async () => {
  const r = lf.rng(11);
  try {
    for (const tile of tiles) {
      setMatmulTile(tile);
      for (const [m, k, n] of [[1, 1, 1], [65, 17, 130], [3, 200, 5], [128, 24, 128]]) {
        for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
          const a = lf.randn([2, ta ? k : m, ta ? m : k], { rng: r, backend: "cpu" });
          const b = lf.randn([2, tb ? n : k, tb ? k : n], { rng: r, backend: "cpu" });
          const want = await lf.matmulT(a, b, ta, tb).data();
          const ag = lf.tensor(await a.data(), { shape: a.shape, backend: "webgpu" });
          const bg = lf.tensor(await b.data(), { shape: b.shape, backend: "webgpu" });
          const got = await lf.matmulT(ag, bg, ta, tb).data();
          assertAllClose(got, want, TOL, `tile ${JSON.stringify(tile)} ${m}x${k}x${n} ${ta}${tb}`);
          for (const t of [a, b, ag, bg]) t.dispose();
        }
      }
    }
  } finally {
    setMatmulTile(null);
  }
});

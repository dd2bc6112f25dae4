// The CPU backend's float32 matmul runs a WebAssembly SIMD kernel (src/cpu/simd_matmul.ts);
// it must agree with the float64 scalar path on every layout, ragged size, broadcast batch
// and special value.
import * as lf from "../../mod.ts";
import { simdMatmul } from "../../src/cpu/simd_matmul.ts";
import { assert, assertClose, assertEquals } from "../_assert.ts";

Deno.test("the WebAssembly SIMD matmul kernel compiles here", () => {
  assert(simdMatmul() !== null, "WebAssembly SIMD is available in Deno");
});

Deno.test("float32 SIMD matmul equals the float64 path (all layouts, ragged sizes)", async () => {
  const r = lf.rng(3);
  const sizes = [[1, 1, 1], [3, 5, 7], [4, 8, 8], [9, 0, 13], [17, 33, 9], [0, 3, 4], [5, 4, 0]];
  for (const [m, k, n] of sizes) {
    for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
      for (const [ab, bb] of [[[2], [2]], [[2], []], [[], [3]]] as number[][][]) {
        const a = lf.randn([...ab, ...(ta ? [k, m] : [m, k])], { rng: r, backend: "cpu" });
        const b = lf.randn([...bb, ...(tb ? [n, k] : [k, n])], { rng: r, backend: "cpu" });
        const got = lf.matmulT(a, b, ta, tb);
        const want = lf.matmulT(a.cast("float64"), b.cast("float64"), ta, tb);
        assertEquals(got.shape, want.shape);
        assertClose(await got.data(), await want.data(), {
          rtol: 1e-5,
          atol: 1e-5,
          msg: `${m}x${k}x${n} ${ta}${tb} batch ${ab}/${bb}`,
        });
      }
    }
  }
});

Deno.test("float32 SIMD matmul propagates NaN and Inf as the definition says", async () => {
  const a = lf.tensor([[0, 1], [NaN, 0], [Infinity, 1]]);
  const b = lf.tensor([[0, 2], [1, 0]]);
  // Row 0: 0·0 + 1·1, 0·2 + 1·0; row 1: NaN·anything; row 2: Inf·0 is NaN, Inf·2 is Inf.
  const got = Array.from(await lf.matmul(a, b).data());
  assertEquals(got.slice(0, 2), [1, 0]);
  assert(got.slice(2, 4).every(Number.isNaN));
  assert(Number.isNaN(got[4]) && got[5] === Infinity);
});

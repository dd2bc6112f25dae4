// The CPU backend's float32 matmul runs a WebAssembly SIMD kernel (src/cpu/simd_matmul.ts);
// it must agree with the float64 scalar path on every layout, ragged size, broadcast batch
// and special value.
import * as lf from "../../mod.ts";
import { simdMatmul } from "../../src/cpu/simd_matmul.ts";
import { simdMatmulLimits } from "../../src/cpu/matmul_pack.ts";
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

Deno.test("threaded float32 matmul is bitwise the single-threaded one (groups, broadcast, ragged)", async () => {
  const saved = { ...simdMatmulLimits }, threadsBefore = lf.cpuThreads();
  // Tiny limits: every product is threaded and batches are cut into groups of a few elements.
  simdMatmulLimits.threadedMinMacs = 1;
  simdMatmulLimits.groupBytes = 4096;
  try {
    const cases: [number[], number[], number, number, number, boolean, boolean][] = [
      [[], [], 37, 19, 45, false, false],
      [[6], [6], 9, 33, 17, true, false],
      [[5], [], 13, 8, 21, false, true],
      [[], [7], 4, 64, 9, true, true],
      [[3, 1], [1, 4], 12, 5, 8, false, false],
    ];
    const results = async (threads: number) => {
      lf.setCpuThreads(threads);
      // Workers start in the background: let them report ready before timing-free runs.
      lf.matmul(lf.ones([8, 8], { backend: "cpu" }), lf.ones([8, 8], { backend: "cpu" }));
      await new Promise((res) => setTimeout(res, threads > 1 ? 300 : 0));
      const out: Float32Array[] = [];
      const rr = lf.rng(99);
      for (const [ab, bb, m, k, n, ta, tb] of cases) {
        const a = lf.randn([...ab, ...(ta ? [k, m] : [m, k])], { rng: rr, backend: "cpu" });
        const b = lf.randn([...bb, ...(tb ? [n, k] : [k, n])], { rng: rr, backend: "cpu" });
        out.push((await lf.matmulT(a, b, ta, tb).data()) as Float32Array);
      }
      return out;
    };
    const one = await results(1);
    for (const threads of [2, 3]) {
      const many = await results(threads);
      many.forEach((got, i) =>
        assertEquals([...got], [...one[i]], `case ${i}, ${threads} threads`)
      );
    }
  } finally {
    Object.assign(simdMatmulLimits, saved);
    lf.setCpuThreads(threadsBefore);
  }
});

Deno.test("setCpuThreads rejects a count that is not a positive integer", () => {
  for (const bad of [0, -1, 1.5, NaN]) {
    let msg = "";
    try {
      lf.setCpuThreads(bad);
    } catch (e) {
      msg = (e as Error).message;
    }
    assert(msg.includes("setCpuThreads") && msg.includes(String(bad)), `rejects ${bad}: ${msg}`);
  }
});

Deno.test("a process whose matmuls ran on worker threads exits on its own", async () => {
  // The workers are unref'd: a script must end when its work does, not wait for them.
  const script = `
    import * as lf from "./mod.ts";
    import { simdMatmulLimits } from "./src/cpu/matmul_pack.ts";
    lf.setCpuThreads(2);
    simdMatmulLimits.threadedMinMacs = 1;
    const a = lf.ones([64, 64]), b = lf.ones([64, 64]);
    lf.matmul(a, b).dispose(); // starts the workers
    await new Promise((r) => setTimeout(r, 300)); // they report ready
    const c = lf.matmul(a, b); // runs on them
    console.log((await c.data())[0], lf.cpuThreads());
  `;
  const root = new URL("../../", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    cwd: root,
    env: { NO_COLOR: "1", LOSSFORGE_BACKEND: "cpu" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill(), 30_000);
  const r = await child.output();
  clearTimeout(timer);
  const out = new TextDecoder().decode(r.stdout).trim();
  assertEquals([r.code, out], [0, "64 2"], new TextDecoder().decode(r.stderr));
});

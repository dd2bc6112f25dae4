// The CPU backend's float32 exp, GELU, GELU backward and softmax run WebAssembly SIMD kernels
// (src/cpu/simd_math.ts); they must agree with the float64 scalar path to float32 accuracy,
// on special values, ragged lengths (not a multiple of four lanes or of the copy chunk) and
// strided inputs.
import fc from "fast-check";
import * as lf from "../../mod.ts";
import { geluScalar } from "../../src/cpu/backend.ts";
import { simdMath } from "../../src/cpu/simd_math.ts";
import { assert, assertClose, assertEquals } from "../_assert.ts";

const LN_FLT_MIN = Math.log(2 ** -126);

/** Units in the last place between two float32 values of the same sign. */
function ulps(a: number, b: number): number {
  const f = new Float32Array([a, b]);
  const i = new Int32Array(f.buffer);
  return Math.abs(i[0] - i[1]);
}

Deno.test("the WebAssembly SIMD math kernels compile here", () => {
  assert(simdMath() !== null, "WebAssembly SIMD is available in Deno");
});

Deno.test("SIMD exp is within 1 ulp of Math.exp, flushes below FLT_MIN, keeps NaN and ±Infinity", () => {
  const sm = simdMath()!;
  const specials = [0, -0, 1, -1, 1e-8, -1e-8, 0.5, 10, -10, 88, 88.7, 88.72, 88.73, 89, 1000];
  const edge = [-87.3, -87.33, -87.34, -88, -100, -103.9, -104, -1e9, Infinity, -Infinity, NaN];
  const n = 70_001; // ragged: not a multiple of 4 nor of the 65,536-element chunk
  const x = new Float32Array(n);
  const r = lf.rng(5);
  for (let i = 0; i < n; i++) x[i] = (r.uniform() - 0.5) * 180;
  x.set([...specials, ...edge]);
  const out = new Float32Array(n);
  sm.exp(x, out, n);
  for (let i = 0; i < n; i++) {
    const want = Math.fround(Math.exp(x[i]));
    if (Number.isNaN(x[i])) assert(Number.isNaN(out[i]), "exp(NaN) is NaN");
    else if (x[i] < LN_FLT_MIN) assertEquals(out[i], 0, `exp(${x[i]}) flushes to 0`);
    else if (want === Infinity) assertEquals(out[i], Infinity, `exp(${x[i]}) overflows`);
    else assert(ulps(out[i], want) <= 1, `exp(${x[i]}) = ${out[i]}, want ${want}`);
  }
});

Deno.test("SIMD exp writes in place and touches nothing past n", () => {
  const sm = simdMath()!;
  const x = new Float32Array([1, 2, 3, 4, 5, 6, 7]);
  sm.exp(x, x, 5);
  assertClose(x.slice(0, 5), [1, 2, 3, 4, 5].map(Math.exp), { rtol: 1e-6 });
  assertEquals([...x.slice(5)], [6, 7]);
});

Deno.test("SIMD GELU and its backward agree with the float64 formulas", () => {
  fc.assert(
    fc.property(
      fc.array(fc.float({ min: -12, max: 12, noNaN: true }), { minLength: 1, maxLength: 40 }),
      (vals) => {
        const sm = simdMath()!;
        const x = new Float32Array(vals), n = x.length;
        const g = x.map((_, i) => (i % 3) - 1.25);
        const y = new Float32Array(n), dx = new Float32Array(n);
        sm.gelu(x, y, n);
        sm.geluGrad(x, g, dx, n);
        const c = Math.sqrt(2 / Math.PI);
        for (let i = 0; i < n; i++) {
          const v = x[i];
          const t = Math.tanh(c * (v + 0.044715 * v ** 3));
          const d = 0.5 * (1 + t) + 0.5 * c * v * (1 - t * t) * (1 + 3 * 0.044715 * v * v);
          // float32 arithmetic on an exp argument up to ~90: a few e-6 relative at most.
          const ref = geluScalar(v);
          assert(
            Math.abs(y[i] - ref) <= 4e-6 * Math.max(Math.abs(ref), 1e-6) + 1e-30,
            `gelu(${v})`,
          );
          assert(Math.abs(dx[i] - g[i] * d) <= 2e-6 * Math.abs(g[i]), `gelu'(${v})`);
        }
      },
    ),
    { numRuns: 200 },
  );
  // Special values behave as the scalar path's (gelu(-Infinity) is NaN there too: -∞/∞).
  const sm = simdMath()!;
  const specials = [Infinity, -Infinity, NaN, 0, -0, 50, -50];
  const x = new Float32Array(specials), y = new Float32Array(specials.length);
  sm.gelu(x, y, x.length);
  specials.forEach((v, i) => {
    const want = geluScalar(v);
    if (Number.isNaN(want)) assert(Number.isNaN(y[i]), `gelu(${v}) is NaN`);
    else assertEquals(y[i] + 0, want + 0, `gelu(${v})`); // +0 makes -0 equal 0
  });
});

Deno.test("float32 exp, gelu, softmax and log-softmax on the cpu backend match float64", async () => {
  const r = lf.rng(11);
  for (const shape of [[3, 1], [2, 5], [7, 130], [1, 70_000], [600, 111]]) {
    const x = lf.randn(shape, { rng: r, backend: "cpu" }).mul(4);
    const x64 = x.cast("float64");
    const pairs: [lf.Tensor, lf.Tensor, string][] = [
      [x.exp(), x64.exp(), "exp"],
      [x.gelu(), x64.gelu(), "gelu"],
      [x.softmax(-1), x64.softmax(-1), "softmax"],
      [x.logSoftmax(-1), x64.logSoftmax(-1), "logSoftmax"],
      // A strided (transposed) input and the softmax over a non-last axis use the same paths.
      [x.transpose().exp(), x64.transpose().exp(), "exp of a transpose"],
      [x.softmax(0), x64.softmax(0), "softmax over axis 0"],
    ];
    for (const [got, want, what] of pairs) {
      assertClose(await got.data(), await want.data(), {
        rtol: 2e-6,
        atol: 1e-7,
        msg: `${what} ${shape}`,
      });
    }
  }
});

Deno.test("float32 softmax keeps masked (-1e9) and all -Infinity rows like the float64 path", async () => {
  const x = lf.tensor([[0, -1e9, 1], [-Infinity, -Infinity, -Infinity], [NaN, 0, 1]], {
    backend: "cpu",
  });
  const got = await x.softmax(-1).data();
  const want = await x.cast("float64").softmax(-1).data();
  for (let i = 0; i < 9; i++) {
    if (Number.isNaN(want[i])) assert(Number.isNaN(got[i]), `element ${i} is NaN`);
    else assertClose([got[i]], [want[i]], { rtol: 1e-6, msg: `element ${i}` });
  }
});

Deno.test("float32 GELU backward on the cpu backend matches float64", async () => {
  const r = lf.rng(12);
  const x = lf.randn([5, 77], { rng: r, backend: "cpu" }).mul(3);
  const grad = (t: lf.Tensor) => lf.grad((v: lf.Tensor) => v.gelu().mul(v.tanh()).sum())(t);
  assertClose(await grad(x).data(), await grad(x.cast("float64")).data(), {
    rtol: 1e-5,
    atol: 1e-6,
  });
});

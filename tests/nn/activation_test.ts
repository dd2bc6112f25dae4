// The activations configs name: exact GELU against erf values, its gradient against the
// analytic derivative and against central differences, and the name table.
import { activationFn, geluExact, grad, type Tensor, tensor, ValueError } from "../../mod.ts";
import { assertClose } from "../_assert.ts";
import { assert, assertEquals, assertThrows } from "./_assert.ts";

// x, erf(x / √2) to 16 digits (Python's math.erf).
const ERF_SQRT1_2: [number, number][] = [
  [-4, -0.9999366575163338],
  [-2, -0.9544997361036416],
  [-1, -0.6826894921370859],
  [-0.5, -0.3829249225480262],
  [0, 0],
  [0.25, 0.1974126513658474],
  [1, 0.6826894921370859],
  [3, 0.9973002039367398],
  [6, 0.9999999980268246],
];

Deno.test("geluExact is x·Φ(x) with Φ within 1e-7 (float64)", async () => {
  const xs = ERF_SQRT1_2.map(([x]) => x);
  const got = await geluExact(tensor(xs, { dtype: "float64" })).data();
  // |x·Φ̃ − x·Φ| ≤ |x|·1e-7, checked as Φ̃ = gelu(x) / x against Φ (and gelu(0) = 0).
  assertEquals(got[4], 0);
  const phi = ERF_SQRT1_2.map(([, e]) => 0.5 * (1 + e)).filter((_, i) => i !== 4);
  const ratio = Array.from(got).map((g, i) => g / xs[i]).filter((_, i) => i !== 4);
  assertClose(ratio, phi, { atol: 1e-7, rtol: 0 });
});

Deno.test("geluExact's gradient is Φ(x) + x·φ(x), and agrees with central differences", async () => {
  const xs = ERF_SQRT1_2.map(([x]) => x);
  const g = await grad((x: Tensor) => geluExact(x).sum())(tensor(xs, { dtype: "float64" }))
    .data();
  const want = ERF_SQRT1_2.map(([x, e]) =>
    0.5 * (1 + e) + x * Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI)
  );
  assertClose(g, want, { atol: 2e-7, rtol: 0 });
  const h = 1e-4;
  const f = async (d: number) =>
    await geluExact(tensor(xs.map((x) => x + d), { dtype: "float64" })).data();
  const [up, down] = [await f(h), await f(-h)];
  assertClose(g, xs.map((_, i) => (up[i] - down[i]) / (2 * h)), { atol: 1e-5, rtol: 0 });
});

Deno.test("activationFn: the tanh GELU aliases, silu, and a ValueError for others", async () => {
  const x = tensor([-1.5, 0.3, 2]);
  for (const name of ["gelu_new", "gelu_pytorch_tanh", "gelu_fast"]) {
    assertClose(await activationFn(name)(x).data(), await x.gelu().data(), { atol: 0, rtol: 0 });
  }
  assertClose(await activationFn("swish")(x).data(), await x.silu().data(), { atol: 0, rtol: 0 });
  // The exact and tanh forms differ by up to about 5e-4: "gelu" must not be the tanh one.
  const diff = (await activationFn("gelu")(x).data())[0] - (await x.gelu().data())[0];
  assert(Math.abs(diff) > 1e-5, `gelu and gelu_new agree too closely (${diff})`);
  const err = assertThrows(
    () => activationFn("mish", "config.json: hidden_act"),
    "hidden_act",
    "mish",
  );
  assert(err instanceof ValueError, "not a ValueError");
});

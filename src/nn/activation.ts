/**
 * The MLP activations of Hugging Face configs, by the names `hidden_act` / `activation` /
 * `activation_function` give them (transformers' `ACT2FN`). `"gelu"` there is the exact,
 * erf-based GELU (GPT-NeoX, Falcon); `"gelu_new"` and its aliases are the tanh form.
 * @module
 */
import { customGrad, recip, scope, sign, type Tensor, ValueError } from "../autograd/mod.ts";

// Abramowitz & Stegun 7.1.26: erfc(z) ≈ t·(a₁ + t·(a₂ + …)) · e^(−z²), t = 1 / (1 + p·z), for
// z ≥ 0, absolute error below 1.5e-7 (under float32 rounding of the products around it).
const P = 0.3275911;
const A = [0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429];
const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Φ(x) = P(N(0,1) ≤ x) = ½(1 + erf(x/√2)), as ½ + sign(x)(½ − ½·erfc(|x|/√2)). */
function normalCdf(x: Tensor): Tensor {
  const z = x.abs().mul(INV_SQRT2);
  const t = recip(z.mul(P).add(1));
  let poly = t.mul(A[4]);
  for (let i = 3; i >= 0; i--) poly = poly.add(A[i]).mul(t);
  const halfErfc = poly.mul(z.square().neg().exp()).mul(0.5);
  return sign(x).mul(halfErfc.neg().add(0.5)).add(0.5);
}

/**
 * The exact GELU, x·Φ(x) with Φ the standard normal CDF (torch's `gelu` without
 * approximation), composed from elementwise ops; its gradient is Φ(x) + x·φ(x).
 *
 * @example
 * ```ts
 * import { geluExact, tensor } from "@lossforge/core";
 * console.log(await geluExact(tensor([-1, 0, 1])).data()); // ≈ [-0.1587, 0, 0.8413]
 * ```
 */
export const geluExact: (x: Tensor) => Tensor = customGrad(
  (x) => scope(() => x.mul(normalCdf(x))),
  (g, _out, x) => [
    scope(() => {
      const density = x.square().mul(-0.5).exp().mul(INV_SQRT_2PI);
      return g.mul(normalCdf(x).add(x.mul(density)));
    }),
  ],
);

/** `quick_gelu`: x·σ(1.702·x), a cheaper sigmoid approximation of GELU. */
function quickGelu(x: Tensor): Tensor {
  return x.mul(x.mul(1.702).sigmoid());
}

const ACTIVATIONS: Readonly<Record<string, (x: Tensor) => Tensor>> = {
  gelu: geluExact,
  gelu_new: (x) => x.gelu(),
  gelu_pytorch_tanh: (x) => x.gelu(),
  gelu_fast: (x) => x.gelu(),
  quick_gelu: quickGelu,
  silu: (x) => x.silu(),
  swish: (x) => x.silu(),
  relu: (x) => x.relu(),
};

/**
 * The activation a config names, or a ValueError naming `field` and the supported names.
 *
 * @param name The config's value (e.g. `"gelu"`, `"gelu_new"`, `"silu"`).
 * @param field Where it came from, for the error (e.g. `config.json: hidden_act`).
 * @example
 * ```ts
 * import { activationFn, tensor } from "@lossforge/core";
 * const act = activationFn("gelu", "config.json: hidden_act"); // the exact, erf GELU
 * console.log(await act(tensor([1])).data()); // ≈ [0.8413]
 * ```
 */
export function activationFn(name: string, field = "activation"): (x: Tensor) => Tensor {
  const fn = Object.hasOwn(ACTIVATIONS, name) ? ACTIVATIONS[name] : undefined;
  if (!fn) {
    throw new ValueError(
      `${field} "${name}" is not supported (supported: ${Object.keys(ACTIVATIONS).join(", ")})`,
    );
  }
  return fn;
}

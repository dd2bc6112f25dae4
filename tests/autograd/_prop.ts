// Shared generators and checks for the autograd property tests: random shapes (size-1 and
// broadcast dims included), float64 CPU tensors, and a gradient check of a random weighted
// sum of an op's outputs against central finite differences.
import fc from "fast-check";
import { noGrad, randn, rng, type Tensor, tensor, valueAndGrad } from "../../mod.ts";

/** float64 on the CPU: the dtype of every gradient check. */
export const F64 = { dtype: "float64", backend: "cpu" } as const;

/** Runs per property: small, so the whole suite stays fast. */
export const RUNS = 40;

/** The element count of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** A float64 CPU tensor of `shape` holding `values`. */
export function f64(values: ArrayLike<number>, shape: readonly number[]): Tensor {
  return tensor(Float64Array.from(values), { ...F64, shape });
}

/** An int32 CPU tensor. */
export function i32(values: ArrayLike<number>, shape: readonly number[]): Tensor {
  return tensor(Int32Array.from(values), { dtype: "int32", backend: "cpu", shape });
}

/** Shapes of rank `minRank..maxRank` with dims 1..4 and at most `maxSize` elements. */
export function shapeArb(minRank = 0, maxRank = 3, maxSize = 30): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 1, max: 4 }), { minLength: minRank, maxLength: maxRank })
    .filter((s) => sizeOf(s) <= maxSize);
}

/** Two shapes that broadcast together: dims set to 1 on either side, leading dims dropped. */
export function broadcastPairArb(
  maxRank = 3,
): fc.Arbitrary<[number[], number[]]> {
  return shapeArb(0, maxRank, 24).chain((base) =>
    fc.tuple(
      fc.array(fc.integer({ min: 0, max: 2 }), {
        minLength: base.length,
        maxLength: base.length,
      }),
      fc.integer({ min: 0, max: base.length }),
      fc.boolean(),
    ).map(([which, drop, dropA]) => {
      const a = base.map((d, i) => (which[i] === 1 ? 1 : d));
      const b = base.map((d, i) => (which[i] === 2 ? 1 : d));
      return dropA
        ? [a.slice(drop), b] as [number[], number[]]
        : [a, b.slice(drop)] as [number[], number[]];
    })
  );
}

/** What kind of values an op needs to stay differentiable. */
export type Kind = "any" | "pos" | "away0" | "distinct" | "unit";

/** `n` float64 values of a kind: any in [-2,2], pos in [0.3,3], away0 with |x| in [0.2,2], distinct (gaps >= 0.1), unit in (-0.9,0.9). */
export function valuesArb(n: number, kind: Kind = "any"): fc.Arbitrary<number[]> {
  const d = (min: number, max: number) =>
    fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
  const arr = <T>(a: fc.Arbitrary<T>) => fc.array(a, { minLength: n, maxLength: n });
  switch (kind) {
    case "any":
      return arr(d(-2, 2));
    case "unit":
      return arr(d(-0.9, 0.9));
    case "pos":
      return arr(d(0.3, 3));
    case "away0":
      return arr(fc.tuple(d(0.2, 2), fc.boolean()).map(([m, s]) => (s ? m : -m)));
    case "distinct":
      return fc.uniqueArray(fc.integer({ min: -40, max: 40 }), { minLength: n, maxLength: n })
        .map((xs) => xs.map((x) => x * 0.1));
  }
}

/** A float64 tensor of a random shape and values. */
export function tensorArb(
  kind: Kind = "any",
  minRank = 0,
  maxRank = 3,
  maxSize = 30,
): fc.Arbitrary<{ shape: number[]; values: number[] }> {
  return shapeArb(minRank, maxRank, maxSize).chain((shape) =>
    valuesArb(sizeOf(shape), kind).map((values) => ({ shape, values }))
  );
}

/** A seed for the random weights of the weighted sum. */
export const seedArb: fc.Arbitrary<number> = fc.integer({ min: 0, max: 1_000_000 });

/**
 * Like tests/_gradcheck.ts, with the five-point stencil
 * (-f(x+2h) + 8f(x+h) - 8f(x-h) + f(x-2h)) / 12h, whose O(h⁴) truncation error lets a large
 * step keep rounding error small too: relative error |a - n| / max(|a|, |n|, floor) < tol
 * holds with margin even where a gradient is near 0 and higher derivatives are not.
 */
export async function fdcheck(
  f: (xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  opts: { h?: number; tol?: number; floor?: number; msg?: string } = {},
): Promise<void> {
  const h = opts.h ?? 1e-3, tol = opts.tol ?? 1e-6, floor = opts.floor ?? 1e-3;
  const [value, grads] = valueAndGrad((xs: Tensor[]) => f(xs))(inputs);
  value.dispose();
  for (let k = 0; k < inputs.length; k++) {
    const x0 = await inputs[k].data();
    const analytic = await grads[k].data();
    grads[k].dispose();
    const at = async (i: number, delta: number) => {
      const v = Float64Array.from(x0);
      v[i] += delta;
      const moved = tensor(v, { ...F64, shape: inputs[k].shape });
      const out = f(inputs.map((x, j) => (j === k ? moved : x)));
      const r = (await out.data())[0];
      out.dispose();
      moved.dispose();
      return r;
    };
    for (let i = 0; i < x0.length; i++) {
      const n = (-(await at(i, 2 * h)) + 8 * (await at(i, h)) - 8 * (await at(i, -h)) +
        (await at(i, -2 * h))) / (12 * h);
      const a = analytic[i];
      const err = Math.abs(a - n) / Math.max(Math.abs(a), Math.abs(n), floor);
      if (!(err < tol)) {
        throw new Error(
          `${opts.msg ?? "fdcheck"}: input ${k} ${
            JSON.stringify(inputs[k].shape)
          }, element ${i}: ` +
            `autograd ${a}, finite differences ${n}, relative error ${err}`,
        );
      }
    }
  }
}

/**
 * Checks the gradient of Σ w ⊙ f(xs), with w random normal weights shaped like f's output,
 * against central finite differences (relative error below 1e-6).
 */
export async function checkGrad(
  f: (xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  seed: number,
  opts: { h?: number; tol?: number; msg?: string } = {},
): Promise<void> {
  const probe = noGrad(() => f(inputs));
  const w = randn(probe.shape, { ...F64, rng: rng(seed) });
  // Identity cases (a full slice, a one-part concat) hand back the input itself.
  if (!inputs.includes(probe)) probe.dispose();
  await fdcheck((xs) => f(xs).mul(w).sum(), inputs, {
    h: opts.h,
    tol: opts.tol,
    msg: opts.msg,
  });
  w.dispose();
}

/** Runs an async property with the suite's run count. */
export function check<T>(arb: fc.Arbitrary<T>, body: (v: T) => Promise<void>, runs = RUNS) {
  return fc.assert(fc.asyncProperty(arb, body), { numRuns: runs });
}

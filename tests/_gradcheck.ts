// Central finite differences in float64 on the CPU backend: the oracle for every gradient.
import { type Tensor, tensor, type Tree, treeLeaves, valueAndGrad } from "../mod.ts";
import { assertClose } from "./_assert.ts";

/**
 * Checks the autograd gradient of scalar `f` at the float64 CPU tensors `inputs` against
 * central differences with step `h`. Compares with relative error
 * |a - n| / max(|a|, |n|, floor) below `tol`.
 */
export async function gradcheck(
  f: (xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  opts: { h?: number; tol?: number; floor?: number; msg?: string } = {},
): Promise<void> {
  const h = opts.h ?? 1e-6, tol = opts.tol ?? 1e-6, floor = opts.floor ?? 1e-3;
  const [, grads] = valueAndGrad((xs: Tensor[]) => f(xs))(inputs);
  const values = await Promise.all(inputs.map((x) => x.data()));
  for (let k = 0; k < inputs.length; k++) {
    const analytic = await (grads as Tensor[])[k].data();
    const numeric = new Float64Array(values[k].length);
    for (let i = 0; i < values[k].length; i++) {
      const at = (delta: number) => {
        const v = Float64Array.from(values[k]);
        v[i] += delta;
        const xs = inputs.map((
          x,
          j,
        ) => (j === k ? tensor(v, { shape: x.shape, dtype: "float64", backend: "cpu" }) : x));
        const out = f(xs);
        return out.data().then((d) => d[0]);
      };
      numeric[i] = ((await at(h)) - (await at(-h))) / (2 * h);
    }
    for (let i = 0; i < numeric.length; i++) {
      const a = analytic[i], n = numeric[i];
      const err = Math.abs(a - n) / Math.max(Math.abs(a), Math.abs(n), floor);
      if (!(err <= tol)) {
        assertClose(analytic, numeric, {
          rtol: tol,
          atol: tol * floor,
          msg: `${opts.msg ?? "gradcheck"}: input ${k}, element ${i}, rel err ${err}`,
        });
      }
    }
  }
}

/** Random weights for a weighted sum Σ w ⊙ out (so every output element matters). */
export function weightedSum(out: Tensor, w: Tensor): Tensor {
  return out.mul(w).sum();
}

/** All tensors of a tree on float64 CPU, for gradchecks. */
export function leavesOf(tree: Tree): Tensor[] {
  return treeLeaves(tree);
}

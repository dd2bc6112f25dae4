/**
 * Reverse-mode differentiation on a tape. Each op records, beside its output, a node that
 * maps the output's gradient to its inputs' gradients; those backward rules are written
 * with ops, so when a gradient is itself differentiated (a `grad` inside a `grad`) the
 * backward pass is recorded too and gradients of gradients work.
 * @module
 */
import { DTypeError, fmtShape, ShapeError, ValueError } from "./errors.ts";
import { isFloat, isHalf } from "./dtype.ts";
import { scope, trackCreated } from "./scope.ts";
import { sameShape } from "./shape.ts";
import { shareStorage, type TapeNode, Tensor } from "./tensor.ts";
import { type Tree, treeFlatten, treeUnflatten } from "./tree.ts";
import * as ops from "./ops/mod.ts";
import { joinSliceGrads } from "./ops/shape_ops.ts";

let enabled = true;
let depth = 0;

/**
 * Whether ops currently record tape nodes (inside `grad` and not inside `noGrad`).
 * @example
 * ```ts
 * import { grad, isRecording, type Tensor, tensor } from "@lossforge/core";
 * console.log(isRecording()); // false
 * grad((x: Tensor) => {
 *   console.log(isRecording()); // true: inside grad, ops are taped
 *   return x.sum();
 * })(tensor([1]));
 * ```
 */
export function isRecording(): boolean {
  return enabled && depth > 0;
}

/**
 * @internal Records `out` as made by `op` from `inputs` when any input carries gradients.
 * Returns `out`.
 */
export function record(
  op: string,
  out: Tensor,
  inputs: Tensor[],
  backward: TapeNode["backward"],
): Tensor {
  if (isRecording() && isFloat(out.dtype) && inputs.some((t) => t._requiresGrad)) {
    out._requiresGrad = true;
    out._node = { op, inputs, backward };
  }
  return out;
}

/**
 * Runs `fn` without recording gradients; tensors it makes are constants to any enclosing
 * `grad`.
 *
 * @example
 * ```ts
 * import { noGrad, tensor } from "@lossforge/core";
 * const y = noGrad(() => tensor([1, 2]).mul(3));
 * console.log(y.requiresGrad); // false
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  const was = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = was;
  }
}

/**
 * The same values, seen as a constant by differentiation (shares storage, no copy).
 *
 * @example
 * ```ts
 * import { grad, stopGradient, type Tensor, tensor } from "@lossforge/core";
 * const g = grad((x: Tensor) => x.mul(stopGradient(x)).sum())(tensor([3]));
 * console.log(await g.item()); // 3, not 6
 * ```
 */
export function stopGradient(t: Tensor): Tensor {
  return shareStorage(t, t.shape);
}

/**
 * Sums `g` down to `shape` (undoing broadcasting), as backward rules of broadcasting ops do.
 * @example
 * ```ts
 * import { ones, sumToShape } from "@lossforge/core";
 * // A [1, 3] bias broadcast over 4 rows gets the gradient summed over the rows.
 * console.log(await sumToShape(ones([4, 3]), [1, 3]).array()); // [[4, 4, 4]]
 * ```
 */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = axes.length ? ops.sum(g, axes, true) : g;
  return ops.reshape(s, shape);
}

function topoOrder(root: Tensor, stopAt: Set<Tensor>): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative post-order DFS: deep models would overflow the call stack with recursion.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t._node && !stopAt.has(t) ? t._node.inputs : [];
    if (i < inputs.length) {
      top[1]++;
      const child = inputs[i];
      if (child._requiresGrad && !seen.has(child)) {
        seen.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

/**
 * Propagates `seed` (the gradient of `out`) back to `leaves`. Gradients of leaves that do
 * not influence `out` are zeros.
 */
function backprop(out: Tensor, seed: Tensor, leaves: Tensor[]): Tensor[] {
  const leafSet = new Set(leaves);
  const grads = new Map<Tensor, Tensor>();
  // Gradients of slices, kept per sliced tensor and joined when that tensor's turn comes (all
  // its consumers come before it in the order).
  const pieces = new Map<Tensor, { g: Tensor; begin: readonly number[] }[]>();
  const gradOf = (t: Tensor): Tensor | undefined => {
    const ps = pieces.get(t);
    if (!ps) return grads.get(t);
    pieces.delete(t);
    const joined = joinSliceGrads(ps, t.shape);
    const prev = grads.get(t);
    const total = prev ? ops.add(prev, joined) : joined;
    grads.set(t, total);
    return total;
  };
  grads.set(out, seed);
  for (const t of topoOrder(out, leafSet)) {
    const g = gradOf(t);
    if (!g || !t._node || leafSet.has(t)) continue;
    const node = t._node;
    if (node.slice && node.inputs[0]._requiresGrad && sameShape(g.shape, t.shape)) {
      const x = node.inputs[0];
      let list = pieces.get(x);
      if (!list) pieces.set(x, list = []);
      list.push({ g, begin: node.slice.begin });
      continue;
    }
    const ins = node.backward(g);
    for (let i = 0; i < node.inputs.length; i++) {
      const x = node.inputs[i];
      const gi = ins[i];
      if (!gi || !x._requiresGrad) continue;
      if (!sameShape(gi.shape, x.shape)) {
        throw new ShapeError(
          `${node.op} backward: gradient ${fmtShape(gi.shape)} does not match input ${
            fmtShape(x.shape)
          }`,
        );
      }
      const prev = grads.get(x);
      grads.set(x, prev ? ops.add(prev, gi) : gi);
    }
  }
  // Two leaves may receive the very same tensor (`add` hands g to both operands); give each
  // leaf its own handle so disposing one gradient cannot free another.
  const given = new Set<Tensor>();
  return leaves.map((l) => {
    const g = gradOf(l);
    if (!g) return ops.zerosLike(l);
    if (!given.has(g)) {
      given.add(g);
      return g;
    }
    return record("identity", shareStorage(g, g.shape), [g], (h) => [h]);
  });
}

/** Makes fresh differentiable leaves for the tensors of a tree. */
function makeLeaves(op: string, tensors: Tensor[]): Tensor[] {
  return tensors.map((t, i) => {
    if (isHalf(t.dtype)) {
      throw new DTypeError(
        `${op}: argument leaf ${i} is ${t.dtype}, storage for frozen weights without gradients: ` +
          `pass it outside the differentiated argument (e.g. LoRA's base), or cast it to float32`,
      );
    }
    if (!isFloat(t.dtype)) {
      throw new DTypeError(
        `${op}: argument leaf ${i} is ${t.dtype}; only float tensors have gradients`,
      );
    }
    // Inside an outer grad, a leaf must stay connected to the outer tape: an identity op.
    const leaf = t._requiresGrad && isRecording()
      ? record("identity", shareStorage(t, t.shape), [t], (g) => [g])
      : shareStorage(t, t.shape);
    leaf._requiresGrad = true;
    return leaf;
  });
}

/**
 * Differentiates `f` with respect to its first argument, a tree of tensors (a tensor, or
 * arrays and plain objects of tensors). The returned function gives `[value, grads]` with
 * `grads` shaped like the first argument. Further arguments pass through undifferentiated.
 * The value must be a scalar (one element).
 *
 * Outside any other `grad`, every intermediate tensor is freed before returning.
 *
 * @example
 * ```ts
 * import { type Tensor, tensor, valueAndGrad } from "@lossforge/core";
 * const f = (p: { w: Tensor }, x: Tensor) => p.w.mul(x).sum().square();
 * const [v, g] = valueAndGrad(f)({ w: tensor([1, 2]) }, tensor([1, 1]));
 * console.log(await v.item(), await g.w.array()); // 9, [6, 6]
 * ```
 */
export function valueAndGrad<P extends Tree, A extends unknown[]>(
  f: (params: P, ...args: A) => Tensor,
): (params: P, ...args: A) => [Tensor, P] {
  return (params: P, ...args: A): [Tensor, P] => {
    const run = (): [Tensor, P] => {
      const { leaves, rebuild } = treeFlatten(params);
      const xs = makeLeaves("valueAndGrad", leaves);
      depth++;
      let value: Tensor;
      try {
        value = f(treeUnflatten(rebuild, xs) as P, ...args);
      } finally {
        depth--;
      }
      if (!(value instanceof Tensor)) throw new ValueError("valueAndGrad: f must return a Tensor");
      if (value.size !== 1) {
        throw new ShapeError(
          `valueAndGrad: f must return a scalar, got shape ${fmtShape(value.shape)}`,
        );
      }
      const gs = gradients(value, ops.onesLike(value), xs);
      const out = depth > 0 ? value : stopGradient(value);
      return [out, treeUnflatten(rebuild, gs) as P];
    };
    return depth > 0 ? run() : scope(run);
  };
}

function gradients(out: Tensor, seed: Tensor, leaves: Tensor[]): Tensor[] {
  // The backward pass is recorded only when an outer grad will differentiate it.
  return depth > 0 ? backprop(out, seed, leaves) : noGrad(() => backprop(out, seed, leaves));
}

/**
 * The gradient of a scalar function with respect to its first argument (a tree of
 * tensors); see `valueAndGrad`.
 *
 * @example
 * ```ts
 * import { grad, type Tensor, tensor } from "@lossforge/core";
 * const d2 = grad((x: Tensor) => grad((y: Tensor) => y.pow(3).sum())(x).sum()); // 6x
 * console.log(await d2(tensor([2])).item()); // 12
 * ```
 */
export function grad<P extends Tree, A extends unknown[]>(
  f: (params: P, ...args: A) => Tensor,
): (params: P, ...args: A) => P {
  const vg = valueAndGrad(f);
  return (params: P, ...args: A): P => {
    const [v, g] = vg(params, ...args);
    if (depth === 0) v.dispose();
    return g;
  };
}

/**
 * Vector-Jacobian product: runs `f` on `primals` and returns its output and a function
 * mapping a cotangent (shaped like the output) to gradients shaped like the primals.
 * Intermediates live until the returned `dispose` is called.
 *
 * @example
 * ```ts
 * import { tensor, vjp } from "@lossforge/core";
 * const { out, backward, dispose } = vjp((x) => x.mul(x), tensor([1, 2, 3]));
 * const g = backward(tensor([1, 1, 1]));
 * console.log(await g.array()); // [2, 4, 6]
 * dispose();
 * out.dispose();
 * ```
 */
export function vjp<P extends Tree>(
  f: (params: P) => Tensor,
  primals: P,
): { out: Tensor; backward: (cotangent: Tensor) => P; dispose: () => void } {
  // Every tensor made here (leaves, forward intermediates, backward temporaries) except `out`
  // and the gradients handed out is freed by `dispose`.
  const made = new Set<Tensor>();
  const { leaves, rebuild } = treeFlatten(primals);
  const xs = trackCreated(() => makeLeaves("vjp", leaves), made);
  depth++;
  let out: Tensor;
  try {
    out = trackCreated(() => f(treeUnflatten(rebuild, xs) as P), made);
  } finally {
    depth--;
  }
  made.delete(out);
  return {
    out,
    backward: (cotangent: Tensor): P => {
      if (!sameShape(cotangent.shape, out.shape)) {
        throw new ShapeError(
          `vjp: cotangent ${fmtShape(cotangent.shape)} does not match output ${
            fmtShape(out.shape)
          }`,
        );
      }
      const gs = trackCreated(() => gradients(out, cotangent, xs), made);
      for (const g of gs) made.delete(g);
      return treeUnflatten(rebuild, gs) as P;
    },
    dispose: () => {
      for (const t of made) t.dispose();
    },
  };
}

/**
 * Makes a differentiable op from a forward function and a hand-written backward rule (used
 * by fused kernels). `forward` runs without recording; `backward(g, out, ...inputs)`
 * returns one gradient (or null) per input.
 *
 * @example
 * ```ts
 * import { customGrad, grad, type Tensor, tensor } from "@lossforge/core";
 * const square = customGrad((x) => x.mul(x), (g, _out, x) => [g.mul(x).mul(2)]);
 * console.log(await grad((x: Tensor) => square(x).sum())(tensor([3])).item()); // 6
 * ```
 */
export function customGrad(
  forward: (...inputs: Tensor[]) => Tensor,
  backward: (g: Tensor, out: Tensor, ...inputs: Tensor[]) => (Tensor | null)[],
): (...inputs: Tensor[]) => Tensor {
  return (...inputs: Tensor[]): Tensor => {
    const out = noGrad(() => forward(...inputs));
    return record("customGrad", out, inputs, (g) => backward(g, out, ...inputs));
  };
}

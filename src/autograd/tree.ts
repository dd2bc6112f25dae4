/**
 * Parameter trees: tensors in nested arrays and plain objects, as in JAX's pytrees.
 * @module
 */
import { Tensor } from "./tensor.ts";

/**
 * A tree of tensors: a tensor, or arrays / plain objects of trees. Other leaves (numbers,
 * strings, null) are carried along unchanged.
 *
 * @example
 * ```ts
 * import { type Tree, treeLeaves, zeros } from "@lossforge/core";
 * const count = (params: Tree) => treeLeaves(params).reduce((n, t) => n + t.size, 0);
 * console.log(count({ w: zeros([2, 2]), layers: [{ b: zeros([2]) }] })); // 6
 * ```
 */
export type Tree =
  | Tensor
  | readonly Tree[]
  | { readonly [key: string]: Tree }
  | number
  | string
  | boolean
  | null
  | undefined;

/** How to put leaves back into the shape of the original tree. */
export type Rebuild = (leaves: Tensor[], at: { i: number }) => Tree;

/** @internal Flattens a tree to its tensors (depth first, object keys in insertion order). */
export function treeFlatten(tree: Tree): { leaves: Tensor[]; rebuild: Rebuild } {
  const leaves: Tensor[] = [];
  const walk = (t: Tree): Rebuild => {
    if (t instanceof Tensor) {
      leaves.push(t);
      return (ls, at) => ls[at.i++];
    }
    if (Array.isArray(t)) {
      const parts = t.map(walk);
      return (ls, at) => parts.map((p) => p(ls, at));
    }
    if (t !== null && typeof t === "object") {
      const entries = Object.entries(t).map(([k, v]) => [k, walk(v as Tree)] as const);
      return (ls, at) => Object.fromEntries(entries.map(([k, p]) => [k, p(ls, at)]));
    }
    return () => t;
  };
  const rebuild = walk(tree);
  return { leaves, rebuild };
}

/** @internal Rebuilds a tree from flattened leaves. */
export function treeUnflatten(rebuild: Rebuild, leaves: Tensor[]): Tree {
  return rebuild(leaves, { i: 0 });
}

/**
 * The tensors of a tree, depth first.
 *
 * @example
 * ```ts
 * import { treeLeaves, zeros } from "@lossforge/core";
 * console.log(treeLeaves({ a: zeros([1]), b: [zeros([2])] }).length); // 2
 * ```
 */
export function treeLeaves(tree: Tree): Tensor[] {
  return treeFlatten(tree).leaves;
}

/**
 * Applies `fn` to every tensor of one tree (and the matching tensors of others with the
 * same structure), returning a tree of the same shape.
 *
 * @example
 * ```ts
 * import { tensor, treeMap } from "@lossforge/core";
 * const doubled = treeMap((x) => x.mul(2), { w: tensor([1, 2]) });
 * console.log(await doubled.w.array()); // [2, 4]
 * ```
 */
export function treeMap<T extends Tree>(
  fn: (x: Tensor, ...rest: Tensor[]) => Tensor,
  tree: T,
  ...others: Tree[]
): T {
  const { leaves, rebuild } = treeFlatten(tree);
  const rest = others.map((o) => treeFlatten(o).leaves);
  for (const r of rest) {
    if (r.length !== leaves.length) {
      throw new TypeError(`treeMap: trees differ: ${leaves.length} vs ${r.length} tensors`);
    }
  }
  const out = leaves.map((x, i) => fn(x, ...rest.map((r) => r[i])));
  return treeUnflatten(rebuild, out) as T;
}

/**
 * A tree shaped like a {@linkcode Tree} whose tensors were replaced by values of type `L`.
 *
 * @example
 * ```ts
 * import { type TreeOf, treeMapWithPath, zeros } from "@lossforge/core";
 * const shapes: TreeOf<string> = treeMapWithPath((t) => t.shape.join("x"), {
 *   w: zeros([2, 3]),
 *   b: [zeros([3])],
 * });
 * console.log(shapes); // { w: "2x3", b: ["3"] }
 * ```
 */
export type TreeOf<L> =
  | L
  | readonly TreeOf<L>[]
  | { readonly [key: string]: TreeOf<L> }
  | number
  | string
  | boolean
  | null
  | undefined;

/**
 * The tree with each tensor replaced by `fn(tensor, path)`, where `path` lists the object
 * keys and array indices from the root to it (the Hugging Face name is `path.join(".")`).
 * Other leaves are carried along unchanged.
 *
 * @example
 * ```ts
 * import { treeMapWithPath, zeros } from "@lossforge/core";
 * const names = treeMapWithPath((_t, path) => path.join("."), { layers: [{ w: zeros([2]) }] });
 * console.log(names); // { layers: [{ w: "layers.0.w" }] }
 * ```
 */
export function treeMapWithPath<L>(
  fn: (leaf: Tensor, path: readonly string[]) => L,
  tree: Tree,
): TreeOf<L> {
  const walk = (t: Tree, path: string[]): TreeOf<L> => {
    if (t instanceof Tensor) return fn(t, path);
    if (Array.isArray(t)) return t.map((v, i) => walk(v, [...path, String(i)]));
    if (t !== null && typeof t === "object") {
      return Object.fromEntries(
        Object.entries(t).map(([k, v]) => [k, walk(v as Tree, [...path, k])]),
      );
    }
    return t;
  };
  return walk(tree, []);
}

/**
 * The tensors of a tree with their paths (see {@linkcode treeMapWithPath}), depth first, object
 * keys in insertion order: the order of {@linkcode treeLeaves}.
 *
 * @example
 * ```ts
 * import { treeLeavesWithPaths, zeros } from "@lossforge/core";
 * const named = treeLeavesWithPaths({ model: { layers: [{ w: zeros([2]) }] } });
 * console.log(named.map(([path]) => path.join("."))); // ["model.layers.0.w"]
 * ```
 */
export function treeLeavesWithPaths(tree: Tree): [path: readonly string[], leaf: Tensor][] {
  const out: [readonly string[], Tensor][] = [];
  treeMapWithPath((t, path) => out.push([path, t]), tree);
  return out;
}

/**
 * Disposes every tensor of a tree.
 *
 * @example
 * ```ts
 * import { liveTensors, treeDispose, zeros } from "@lossforge/core";
 * const before = liveTensors();
 * const state = { m: zeros([2]), v: [zeros([2])] };
 * treeDispose(state);
 * console.log(liveTensors() === before); // true
 * ```
 */
export function treeDispose(tree: Tree): void {
  for (const t of treeLeaves(tree)) t.dispose();
}

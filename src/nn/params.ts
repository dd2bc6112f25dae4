/**
 * Parameter trees and their Hugging Face names: a model's params are nested plain objects
 * (and arrays, for layer stacks) of tensors, keyed so that joining the keys with dots gives
 * the names PyTorch uses (`model.layers.0.self_attn.q_proj.weight`).
 * @module
 */
import { Tensor, treeLeavesWithPaths } from "../autograd/mod.ts";

/**
 * A tree of parameter tensors: a tensor, an array of trees (a stack of layers) or an object
 * of trees. Declared as type aliases (not interfaces) so concrete param types stay
 * assignable to it.
 *
 * @example
 * ```ts
 * import { countParams, type ParamTree, zeros } from "@lossforge/core";
 * // Any nesting of objects and arrays of tensors is a tree the library can walk.
 * const p: ParamTree = { lm_head: { weight: zeros([4, 2]) }, layers: [{ w: zeros([2]) }] };
 * console.log(countParams(p)); // 10
 * ```
 */
export type ParamTree =
  | Tensor
  | readonly ParamTree[]
  | { readonly [key: string]: ParamTree | undefined };

/**
 * Flattens a tree into `{ "a.b.0.weight": tensor }` (array indices become path segments).
 * A record that is already flat comes back unchanged.
 *
 * @example
 * ```ts
 * import { flattenParams, zeros } from "@lossforge/core";
 * const flat = flattenParams({ model: { layers: [{ w: zeros([2]) }] } });
 * console.log(Object.keys(flat)); // ["model.layers.0.w"]
 * ```
 */
export function flattenParams(tree: ParamTree, prefix = ""): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [path, t] of treeLeavesWithPaths(tree)) {
    const name = (prefix ? [prefix, ...path] : path).join(".");
    if (name === "") throw new TypeError("flattenParams: the root is a tensor with no name");
    // Keys may hold dots themselves (a flat record passes through unchanged), so two
    // spellings of one name are possible: refuse them rather than drop one.
    if (name in out) throw new TypeError(`flattenParams: two tensors are named "${name}"`);
    out[name] = t;
  }
  return out;
}

/**
 * Rebuilds a tree from dotted names. An object whose keys are exactly 0..n-1 becomes an
 * array, so `model.layers.3.…` comes back as `model.layers[3]`.
 *
 * @example
 * ```ts
 * import { unflattenParams, zeros } from "@lossforge/core";
 * const tree = unflattenParams({ "model.layers.0.w": zeros([2]) }) as {
 *   model: { layers: { w: unknown }[] };
 * };
 * console.log(Array.isArray(tree.model.layers)); // true
 * ```
 */
export function unflattenParams(flat: Record<string, Tensor>): ParamTree {
  type Node = { [key: string]: Node | Tensor };
  const root: Node = {};
  for (const [name, t] of Object.entries(flat)) {
    const parts = name.split(".");
    let node = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const next = node[parts[i]];
      if (next instanceof Tensor) {
        throw new TypeError(`unflattenParams: "${name}" nests under the tensor "${parts[i]}"`);
      }
      node = (node[parts[i]] = next ?? {}) as Node;
    }
    const last = parts[parts.length - 1];
    if (node[last] !== undefined) {
      throw new TypeError(`unflattenParams: "${name}" is both a tensor and a group`);
    }
    node[last] = t;
  }
  const arrays = (n: Node | Tensor): ParamTree => {
    if (n instanceof Tensor) return n;
    const keys = Object.keys(n);
    const isList = keys.length > 0 && keys.every((k, i) => k === String(i)) ||
      keys.length > 0 && [...keys].sort((a, b) => +a - +b).every((k, i) => k === String(i));
    if (isList) {
      return Array.from({ length: keys.length }, (_, i) => arrays(n[String(i)]));
    }
    return Object.fromEntries(keys.map((k) => [k, arrays(n[k])]));
  };
  return arrays(root);
}

/**
 * Counts the scalar parameters of a tree.
 *
 * @example
 * ```ts
 * import { countParams, zeros } from "@lossforge/core";
 * console.log(countParams({ w: zeros([3, 4]), b: zeros([4]) })); // 16
 * ```
 */
export function countParams(tree: ParamTree): number {
  return Object.values(flattenParams(tree)).reduce((n, t) => n + t.size, 0);
}

/**
 * Splits a tree of tensors and plain values (params, optimizer state) into a JSON skeleton
 * and named arrays, and joins them back. Tensor names are the tree paths joined by dots
 * (`model.layers.0.self_attn.q_proj.weight`), the Hugging Face convention.
 *
 * @module
 */

import { Tensor, tensor, type Tree } from "../../autograd/mod.ts";
import type { StoredArray } from "./safetensors_io.ts";
import type { Json } from "../spec/types.ts";

/**
 * A tree with each tensor replaced by `{ $tensor: name }` (and non-finite numbers by
 * `{ $number: "NaN" }`, which JSON cannot hold).
 *
 * @example
 * ```ts
 * import type { TreeSkeleton } from "./tree_codec.ts";
 * const s: TreeSkeleton = { w: { $tensor: "w" }, count: 3 };
 * console.log(s);
 * ```
 */
export type TreeSkeleton = Json;

/**
 * Reads every tensor of `tree` back (all at once, so a GPU flushes once) and returns the
 * skeleton and the named arrays.
 *
 * @example
 * ```ts
 * import { tensor } from "../../autograd/mod.ts";
 * import { splitTree } from "./tree_codec.ts";
 * const { skeleton, arrays } = await splitTree({ w: tensor([1, 2]), n: 3 });
 * console.log(skeleton, Object.keys(arrays)); // { w: { $tensor: "w" }, n: 3 } ["w"]
 * ```
 */
export async function splitTree(
  tree: Tree,
): Promise<{ skeleton: TreeSkeleton; arrays: Record<string, StoredArray> }> {
  const found: [string, Tensor][] = [];
  const walk = (t: Tree, path: string[]): Json => {
    if (t instanceof Tensor) {
      const name = path.length ? path.join(".") : "value";
      found.push([name, t]);
      return { $tensor: name };
    }
    if (Array.isArray(t)) return t.map((v, i) => walk(v, [...path, String(i)]));
    if (t !== null && typeof t === "object") {
      const out: { [key: string]: Json } = {};
      for (const [k, v] of Object.entries(t)) if (v !== undefined) out[k] = walk(v, [...path, k]);
      return out;
    }
    if (typeof t === "number" && !Number.isFinite(t)) return { $number: String(t) };
    return (t ?? null) as Json;
  };
  const skeleton = walk(tree, []);
  const datas = await Promise.all(found.map(([, t]) => t.data()));
  const arrays: Record<string, StoredArray> = {};
  found.forEach(([name, t], i) => {
    arrays[name] = { dtype: t.dtype, shape: t.shape, data: datas[i] };
  });
  return { skeleton, arrays };
}

/**
 * Rebuilds a tree from its skeleton and arrays, making tensors on the current backend.
 *
 * @example
 * ```ts
 * import { joinTree, splitTree } from "./tree_codec.ts";
 * import { tensor } from "../../autograd/mod.ts";
 * const { skeleton, arrays } = await splitTree({ w: tensor([1, 2]) });
 * const back = joinTree(skeleton, arrays) as { w: ReturnType<typeof tensor> };
 * console.log(await back.w.data()); // Float32Array [1, 2]
 * ```
 */
export function joinTree(skeleton: TreeSkeleton, arrays: Record<string, StoredArray>): Tree {
  const walk = (s: Json): Tree => {
    if (Array.isArray(s)) return s.map(walk);
    if (s !== null && typeof s === "object") {
      if (typeof s.$tensor === "string") {
        const a = arrays[s.$tensor];
        if (!a) throw new RangeError(`checkpoint: tensor ${s.$tensor} is missing`);
        return tensor(a.data, { shape: a.shape, dtype: a.dtype });
      }
      if (typeof s.$number === "string") return Number(s.$number);
      const out: { [key: string]: Tree } = {};
      for (const [k, v] of Object.entries(s)) out[k] = walk(v);
      return out;
    }
    return s;
  };
  return walk(skeleton);
}

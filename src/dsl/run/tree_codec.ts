/**
 * A tree of tensors and plain values (params, optimizer state) as a JSON skeleton plus its
 * named tensors, and back. Tensor names are the tree paths joined by dots
 * (`model.layers.0.self_attn.q_proj.weight`, the Hugging Face convention), so the tensors
 * go into a safetensors file as they are and the skeleton into JSON.
 *
 * @module
 */

import { type Tensor, type Tree, treeMapWithPath } from "../../autograd/mod.ts";
import type { Json } from "../spec/types.ts";

/**
 * A tree with each tensor replaced by `{ $tensor: name }` (and non-finite numbers by
 * `{ $number: "NaN" }`, which JSON cannot hold).
 *
 * @example
 * ```ts
 * import { tensor } from "@lossforge/core";
 * import { splitTree, type TreeSkeleton } from "./tree_codec.ts";
 * const s: TreeSkeleton = splitTree({ w: tensor([1]), best: NaN }).skeleton;
 * console.log(JSON.stringify(s)); // {"w":{"$tensor":"w"},"best":{"$number":"NaN"}}
 * ```
 */
export type TreeSkeleton = Json;

/**
 * The skeleton of `tree` and its tensors by name (a tensor at the root is named `value`).
 *
 * @example
 * ```ts
 * import { tensor } from "@lossforge/core";
 * import { splitTree } from "./tree_codec.ts";
 * const { skeleton, tensors } = splitTree({ w: tensor([1, 2]), n: 3 });
 * console.log(skeleton, Object.keys(tensors)); // { w: { $tensor: "w" }, n: 3 } ["w"]
 * ```
 */
export function splitTree(tree: Tree): { skeleton: TreeSkeleton; tensors: Record<string, Tensor> } {
  const tensors: Record<string, Tensor> = {};
  const marked = treeMapWithPath((t, path) => {
    const name = path.length ? path.join(".") : "value";
    tensors[name] = t;
    return { $tensor: name };
  }, tree);
  // Through JSON, as state.json will hold it: undefined fields drop out (null in arrays and at
  // the root) and the numbers JSON cannot write become { $number }.
  const text = JSON.stringify(
    marked ?? null,
    (_key, v) => typeof v === "number" && !Number.isFinite(v) ? { $number: String(v) } : v,
  );
  return { skeleton: JSON.parse(text), tensors };
}

/**
 * Rebuilds a tree from its skeleton and its tensors.
 *
 * @example
 * ```ts
 * import { type Tensor, tensor } from "@lossforge/core";
 * import { joinTree, splitTree } from "./tree_codec.ts";
 * const { skeleton, tensors } = splitTree({ w: tensor([1, 2]) });
 * const back = joinTree(skeleton, tensors) as { w: Tensor };
 * console.log(await back.w.data()); // Float32Array [1, 2]
 * ```
 */
export function joinTree(skeleton: TreeSkeleton, tensors: Record<string, Tensor>): Tree {
  const walk = (s: Json): Tree => {
    if (Array.isArray(s)) return s.map(walk);
    if (s !== null && typeof s === "object") {
      if (typeof s.$tensor === "string") {
        const t = tensors[s.$tensor];
        if (!t) throw new RangeError(`checkpoint: tensor ${s.$tensor} is missing`);
        return t;
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

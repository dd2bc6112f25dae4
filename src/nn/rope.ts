/**
 * Rotary position embeddings in Hugging Face's "rotate half" convention: the head vector is
 * split in two halves (not interleaved pairs), x·cos + rotate_half(x)·sin with
 * rotate_half([a, b]) = [-b, a], and frequencies θ^(-2i/d) repeated for both halves.
 * @module
 */
import { cast, computeDtype, concat, cos, neg, sin, slice, type Tensor } from "../autograd/mod.ts";
import { constantLike } from "./module.ts";

/**
 * Cosine and sine tables, shaped `[B or 1, 1, T, headDim]` to broadcast over heads.
 *
 * @example
 * ```ts
 * import { type RopeTables, ropeTables, tensor } from "@lossforge/core";
 * const t: RopeTables = ropeTables(tensor([[0, 1, 2]], { dtype: "int32" }), 8, 10000, tensor([0]));
 * console.log(t.cos.shape); // [1, 1, 3, 8]
 * ```
 */
export interface RopeTables {
  /** cos(position · frequency). */
  cos: Tensor;
  /** sin(position · frequency). */
  sin: Tensor;
}

/**
 * The tables for int32 `positions` `[B, T]` (float dtype and backend taken from `like`).
 * Frequencies are rounded to float32 as transformers computes them.
 *
 * @example
 * ```ts
 * import { ropeTables, tensor } from "@lossforge/core";
 * const { sin } = ropeTables(tensor([[0, 1]], { dtype: "int32" }), 4, 10000, tensor([0]));
 * console.log(await sin.data()); // zeros at position 0
 * ```
 */
export function ropeTables(
  positions: Tensor,
  headDim: number,
  theta: number,
  like: Tensor,
): RopeTables {
  const half = headDim / 2;
  if (!Number.isInteger(half)) {
    throw new RangeError(`rope: head dimension must be even, got ${headDim}`);
  }
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = Math.fround(1 / Math.pow(theta, (2 * i) / headDim));
  const invFreq = constantLike(inv, [half], like);
  const [b, t] = positions.shape;
  const angles = cast(positions, computeDtype(like.dtype)).reshape([b, 1, t, 1]).mul(invFreq);
  const emb = concat([angles, angles], -1);
  return { cos: cos(emb), sin: sin(emb) };
}

/**
 * [-x₂, x₁] for x = [x₁, x₂] split along the last axis.
 *
 * @example
 * ```ts
 * import { rotateHalf, tensor } from "@lossforge/core";
 * console.log(await rotateHalf(tensor([1, 2, 3, 4])).data()); // [-3, -4, 1, 2]
 * ```
 */
export function rotateHalf(x: Tensor): Tensor {
  const d = x.shape[x.rank - 1], half = d / 2;
  const lead = new Array<number>(x.rank - 1).fill(0);
  const open = new Array<undefined>(x.rank - 1).fill(undefined);
  const x1 = slice(x, [...lead, 0], [...open, half]);
  const x2 = slice(x, [...lead, half]);
  return concat([neg(x2), x1], -1);
}

/**
 * Rotates query or key heads `[B, H, T, headDim]` by their positions.
 *
 * @example
 * ```ts
 * import { applyRope, ropeTables, randn, tensor } from "@lossforge/core";
 * const q = randn([1, 2, 3, 4]);
 * const r = applyRope(q, ropeTables(tensor([[0, 1, 2]], { dtype: "int32" }), 4, 1e4, q));
 * console.log(r.shape); // [1, 2, 3, 4]
 * ```
 */
export function applyRope(x: Tensor, tables: RopeTables): Tensor {
  return x.mul(tables.cos).add(rotateHalf(x).mul(tables.sin));
}

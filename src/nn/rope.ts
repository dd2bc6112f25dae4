/**
 * Rotary position embeddings in Hugging Face's "rotate half" convention: the head vector is
 * split in two halves (not interleaved pairs), x·cos + rotate_half(x)·sin with
 * rotate_half([a, b]) = [-b, a], and frequencies θ^(-2i/d) repeated for both halves.
 * Partial rotary (GPT-NeoX's `rotary_pct`, StableLM's `partial_rotary_factor`) rotates only
 * the first d of each head's dimensions, with tables built for d; the rest pass unchanged.
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
  return concat([neg(lastAxis(x, half, d)), lastAxis(x, 0, half)], -1);
}

/** x[..., from:to]. */
function lastAxis(x: Tensor, from: number, to: number): Tensor {
  const lead = new Array<number>(x.rank - 1).fill(0);
  const open = new Array<undefined>(x.rank - 1).fill(undefined);
  return slice(x, [...lead, from], [...open, to]);
}

/**
 * The number of rotated dimensions per head for a rotary fraction, as transformers counts
 * them: ⌊headDim · fraction⌋, which must be even and positive.
 *
 * @example
 * ```ts
 * import { rotaryDims } from "@lossforge/core";
 * console.log(rotaryDims(80, 0.25)); // 20: Pythia/RedPajama heads of 80 with rotary_pct 0.25
 * ```
 */
export function rotaryDims(headDim: number, fraction = 1): number {
  const d = Math.floor(headDim * fraction);
  if (!(fraction > 0 && fraction <= 1) || d < 2 || d % 2 !== 0) {
    throw new RangeError(
      `rope: rotary fraction ${fraction} of head dimension ${headDim} gives ${d} dimensions ` +
        `(must be an even number of at least 2, fraction in (0, 1])`,
    );
  }
  return d;
}

/**
 * Rotates query or key heads `[B, H, T, headDim]` by their positions. Tables narrower than
 * the head (partial rotary) rotate its first dimensions and leave the others as they are.
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
  const d = x.shape[x.rank - 1], r = tables.cos.shape[tables.cos.rank - 1];
  if (r === d) return x.mul(tables.cos).add(rotateHalf(x).mul(tables.sin));
  if (r > d) {
    throw new RangeError(`rope: tables cover ${r} dimensions, heads have only ${d}`);
  }
  const rot = lastAxis(x, 0, r);
  const rotated = rot.mul(tables.cos).add(rotateHalf(rot).mul(tables.sin));
  return concat([rotated, lastAxis(x, r, d)], -1);
}

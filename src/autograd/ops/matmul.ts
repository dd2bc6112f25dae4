/**
 * Batched matrix multiplication. Transposed operands are first-class (backward passes are
 * full of them), so the backward rules never materialise a transpose.
 * @module
 */
import type { MatmulSpec } from "../backend.ts";
import { isHalf } from "../dtype.ts";
import { fmtShape, ShapeError } from "../errors.ts";
import { broadcastShapes } from "../shape.ts";
import { record, sumToShape } from "../tape.ts";
import { fromBuffer, type Tensor } from "../tensor.ts";
import { stridesOf } from "../shape.ts";
import { backendOf, resultDtype } from "./core.ts";
import { cast } from "./misc.ts";
import { reshape } from "./shape_ops.ts";

/**
 * op(a) @ op(b) for rank ≥ 2 operands, op transposing the last two axes where asked; the
 * kernel reads a transposed operand in place. Batch dims broadcast.
 */
function product(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  // A batch of rows times one matrix ([..., m, k] @ [k, n], the shape of every linear layer)
  // is a single [batch·m, k] @ [k, n] product: one big kernel instead of many small ones.
  const inner = a.shape[a.rank - 1];
  if (
    b.rank === 2 && a.rank > 2 && !transA && a.isContiguous && inner > 0 &&
    inner === b.shape[transB ? 1 : 0]
  ) {
    const out = product(reshape(a, [-1, inner]), b, false, transB);
    return reshape(out, [...a.shape.slice(0, -1), out.shape[1]]);
  }
  const bk = backendOf("matmul", a, b);
  if (a.rank < 2 || b.rank < 2) {
    throw new ShapeError(
      `matmul: operands need rank >= 2, a is ${fmtShape(a.shape)}, b is ${fmtShape(b.shape)}`,
    );
  }
  const dtype = resultDtype(a, b);
  // A half operand (frozen weights) is widened to float32 by the backend as it reads it, so
  // no float32 copy of it is ever held; beside float64 it is cast (the CPU oracle's path).
  const keepHalf = (t: Tensor) => isHalf(t.dtype) && dtype === "float32";
  if (a.dtype !== dtype && !keepHalf(a)) a = cast(a, dtype);
  if (b.dtype !== dtype && !keepHalf(b)) b = cast(b, dtype);
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const m = transA ? ac : ar, k = transA ? ar : ac;
  const kb = transB ? bc : br, n = transB ? br : bc;
  if (k !== kb) {
    const ta = transA ? " (transposed)" : "", tb = transB ? " (transposed)" : "";
    throw new ShapeError(
      `matmul: inner dimensions differ: a is ${fmtShape(a.shape)}${ta}, b is ${
        fmtShape(b.shape)
      }${tb}`,
    );
  }
  const aBatch = a.shape.slice(0, -2), bBatch = b.shape.slice(0, -2);
  const outBatch = broadcastShapes("matmul", aBatch, bBatch);
  // A view that is exactly a transpose of the last two axes of contiguous storage is read
  // through the matching flag instead of being copied.
  const [aBuf, ta] = operand(a, transA), [bBuf, tb] = operand(b, transB);
  const spec: MatmulSpec = { aBatch, bBatch, outBatch, m, k, n, transA: ta, transB: tb };
  if (isHalf(a.dtype)) spec.aDtype = a.dtype;
  if (isHalf(b.dtype)) spec.bDtype = b.dtype;
  const out = fromBuffer(bk, bk.matmul(aBuf, bBuf, spec, dtype), [...outBatch, m, n], dtype);
  const A = a, B = b;
  return record("matmul", out, [A, B], (g) => {
    // C = op(A) op(B). Each case picks operand order and flags so no transpose is copied.
    let ga: Tensor | null = null, gb: Tensor | null = null;
    if (A._requiresGrad) {
      ga = transA
        ? (transB ? product(B, g, true, true) : product(B, g, false, true))
        : (transB ? product(g, B, false, false) : product(g, B, false, true));
      ga = sumToShape(ga, A.shape);
    }
    if (B._requiresGrad) {
      gb = transB
        ? (transA ? product(g, A, true, true) : product(g, A, true, false))
        : (transA ? product(A, g, false, false) : product(A, g, true, false));
      gb = sumToShape(gb, B.shape);
    }
    return [ga, gb];
  });
}

/**
 * The buffer and transpose flag to hand the backend for operand `t` read with flag `trans`:
 * a view that swaps the last two axes of contiguous storage (`x.transpose()`, `x.mT`-style)
 * is its storage read with the flag flipped; any other view is made contiguous.
 */
function operand(t: Tensor, trans: boolean): [unknown, boolean] {
  const l = t._layout;
  if (l && l.offset === 0 && t.rank >= 2) {
    const r = t.rank;
    const stored = [...t.shape];
    [stored[r - 2], stored[r - 1]] = [stored[r - 1], stored[r - 2]];
    const st = stridesOf(stored);
    [st[r - 2], st[r - 1]] = [st[r - 1], st[r - 2]];
    if (st.every((v, i) => v === l.strides[i] || t.shape[i] === 1)) {
      return [t.storage.buf, !trans];
    }
  }
  return [t.buf, trans];
}

/**
 * Which operands of {@linkcode matmul} enter transposed (their last two axes swapped).
 *
 * @example
 * ```ts
 * import { matmul, type MatmulOptions, tensor } from "@lossforge/core";
 * const x = tensor([[1, 2]]), w = tensor([[1, 0], [0, 1], [1, 1]]); // w stored [out, in]
 * const asLinear: MatmulOptions = { transposeB: true }; // x @ wᵀ, as a linear layer does
 * console.log(await matmul(x, w, asLinear).array()); // [[1, 2, 3]]
 * ```
 */
export interface MatmulOptions {
  /** Use aᵀ (a must have rank ≥ 2). Default false. */
  transposeA?: boolean;
  /** Use bᵀ (b must have rank ≥ 2). Default false. */
  transposeB?: boolean;
}

/**
 * Matrix product with NumPy semantics: 1-D operands are promoted (and the added axis
 * removed), batch dims broadcast. `transposeA` / `transposeB` multiply by a transposed
 * operand without materialising the transpose (backward passes are full of them).
 * A `bfloat16` / `float16` operand (frozen weights) is widened to float32 as the kernel reads
 * it, the sums are float32 and so is the result; gradients flow to the other operand only.
 *
 * @example
 * ```ts
 * import { matmul, tensor } from "@lossforge/core";
 * console.log(await matmul(tensor([[1, 2]]), tensor([[3], [4]])).item()); // 11
 * const a = tensor([[1, 2], [3, 4]]);
 * console.log(await matmul(a, a, { transposeB: true }).array()); // a @ aᵀ: [[5, 11], [11, 25]]
 * ```
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const transA = options.transposeA ?? false, transB = options.transposeB ?? false;
  if (transA || transB) return product(a, b, transA, transB);
  if (a.rank === 0 || b.rank === 0) {
    throw new ShapeError(
      `matmul: scalars cannot be multiplied as matrices: a is ${fmtShape(a.shape)}, b is ${
        fmtShape(b.shape)
      }`,
    );
  }
  const a2 = a.rank === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const b2 = b.rank === 1 ? reshape(b, [b.shape[0], 1]) : b;
  let out = product(a2, b2, false, false);
  if (a.rank === 1 || b.rank === 1) {
    const s = out.shape.slice(0, -2);
    if (a.rank !== 1) s.push(out.shape[out.rank - 2]);
    if (b.rank !== 1) s.push(out.shape[out.rank - 1]);
    out = reshape(out, s);
  }
  return out;
}

/**
 * Alias of {@linkcode matmul} with positional flags, kept for existing code:
 * `matmulT(a, b, ta, tb)` is `matmul(a, b, { transposeA: ta, transposeB: tb })`.
 *
 * @example
 * ```ts
 * import { matmulT, tensor } from "@lossforge/core";
 * const a = tensor([[1, 2], [3, 4]]);
 * console.log(await matmulT(a, a, false, true).array()); // a @ aᵀ: [[5, 11], [11, 25]]
 * ```
 */
export function matmulT(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  return product(a, b, transA, transB);
}

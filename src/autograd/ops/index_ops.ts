/**
 * Indexing: gather and scatter-add (torch semantics), take / embedding, oneHot.
 * @module
 */
import { DTypeError, fmtShape, ShapeError } from "../errors.ts";
import { type DType, isHalf } from "../dtype.ts";
import { normAxis } from "../shape.ts";
import { record } from "../tape.ts";
import { fromBuffer, type Tensor } from "../tensor.ts";
import { backendOf, zerosLike } from "./core.ts";
import { eq } from "./elementwise.ts";
import { cast } from "./misc.ts";
import { expand, reshape } from "./shape_ops.ts";

function checkIndex(op: string, x: Tensor, axis: number, index: Tensor): number {
  if (index.dtype !== "int32") {
    throw new DTypeError(`${op}: index must be int32, got ${index.dtype}`);
  }
  const ax = normAxis(op, axis, x.rank);
  if (index.rank !== x.rank) {
    throw new ShapeError(
      `${op}: index rank ${index.rank} ${fmtShape(index.shape)} differs from input rank ${x.rank} ${
        fmtShape(x.shape)
      }`,
    );
  }
  for (let d = 0; d < x.rank; d++) {
    if (d !== ax && index.shape[d] > x.shape[d]) {
      throw new ShapeError(
        `${op}: index ${fmtShape(index.shape)} exceeds input ${fmtShape(x.shape)} at axis ${d}`,
      );
    }
  }
  return ax;
}

/**
 * torch.gather: out[i][j][k] = x[i][index[i][j][k]][k] for axis 1 (likewise for any axis).
 * Backward: scatter-add of the gradient at the same indices.
 * @example
 * ```ts
 * import { gather, tensor } from "@lossforge/core";
 * const index = tensor([[1], [0]], { dtype: "int32" }); // one column per row
 * console.log(await gather(tensor([[1, 2], [3, 4]]), 1, index).array()); // [[2], [3]]
 * ```
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  const ax = checkIndex("gather", x, axis, index);
  const b = backendOf("gather", x, index);
  const out = fromBuffer(
    b,
    b.gather(x.buf, x.shape, ax, index.buf, index.shape, x.dtype),
    index.shape,
    x.dtype,
  );
  return record("gather", out, [x], (g) => [scatterAdd(zerosLike(x), ax, index, g)]);
}

/**
 * torch.scatter_add, out of place: a copy of `x` with out[..index[..i..]..] += src[..i..].
 * @example
 * ```ts
 * import { scatterAdd, tensor, zeros } from "@lossforge/core";
 * const index = tensor([0, 0, 2], { dtype: "int32" });
 * console.log(await scatterAdd(zeros([3]), 0, index, tensor([1, 1, 5])).array()); // [2, 0, 5]
 * ```
 */
export function scatterAdd(x: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  const ax = checkIndex("scatterAdd", x, axis, index);
  if (src.shape.length !== index.shape.length || src.shape.some((d, i) => d !== index.shape[i])) {
    throw new ShapeError(
      `scatterAdd: src ${fmtShape(src.shape)} must have the index's shape ${fmtShape(index.shape)}`,
    );
  }
  if (src.dtype !== x.dtype) {
    throw new DTypeError(`scatterAdd: src is ${src.dtype}, input is ${x.dtype}`);
  }
  const b = backendOf("scatterAdd", x, index, src);
  const buf = b.scatterAdd(x.buf, x.shape, ax, index.buf, src.buf, index.shape, x.dtype);
  const out = fromBuffer(b, buf, x.shape, x.dtype);
  return record(
    "scatterAdd",
    out,
    [x, src],
    (g) => [g, src._requiresGrad ? gather(g, ax, index) : null],
  );
}

/**
 * Rows by index: out[...i, :] = x[index[...i], :] (an embedding lookup). Differentiable
 * in `x` (the gradient scatter-adds into the rows). A `bfloat16` / `float16` table (frozen
 * embeddings) gives its rows widened to float32 (exact), without gradient.
 * @example
 * ```ts
 * import { take, tensor } from "@lossforge/core";
 * const rows = tensor([1, 1], { dtype: "int32" });
 * console.log(await take(tensor([[1, 2], [3, 4]]), rows).array()); // [[3, 4], [3, 4]]
 * ```
 */
export function take(x: Tensor, index: Tensor): Tensor {
  if (index.dtype !== "int32") {
    throw new DTypeError(`take: index must be int32, got ${index.dtype}`);
  }
  if (x.rank === 0) throw new ShapeError("take: input must have rank >= 1");
  const rest = x.shape.slice(1);
  const n = index.size;
  const flat = reshape(index, [n, ...rest.map(() => 1)]);
  const idx = expand(flat, [n, ...rest]);
  const rows = isHalf(x.dtype) ? gatherHalf(x, idx) : gather(x, 0, idx);
  return reshape(rows, [...index.shape, ...rest]);
}

/** Rows of a half table widened to float32 (a gather along axis 0; no gradient). */
function gatherHalf(x: Tensor, index: Tensor): Tensor {
  checkIndex("take", x, 0, index);
  const b = backendOf("take", x, index);
  const buf = b.gather(x.buf, x.shape, 0, index.buf, index.shape, x.dtype);
  return fromBuffer(b, buf, index.shape, "float32");
}

/**
 * Embedding lookup: `table[ids]` with `table` of shape [vocab, dim]; same as `take`.
 * @example
 * ```ts
 * import { embedding, tensor } from "@lossforge/core";
 * const table = tensor([[0, 0], [1, 1], [2, 2]]); // 3 tokens, width 2
 * const ids = tensor([[2, 0]], { dtype: "int32" }); // [batch 1, 2 positions]
 * console.log(await embedding(table, ids).array()); // [[[2, 2], [0, 0]]]
 * ```
 */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  return take(table, ids);
}

/**
 * One-hot encoding: out[..., c] = 1 where index == c (no gradient). Indices outside
 * [0, classes) (for example -100) give a row of zeros.
 * @example
 * ```ts
 * import { oneHot, tensor } from "@lossforge/core";
 * const labels = tensor([2, 0], { dtype: "int32" });
 * console.log(await oneHot(labels, 3).array()); // [[0, 0, 1], [1, 0, 0]]
 * ```
 */
export function oneHot(index: Tensor, classes: number, dtype: DType = "float32"): Tensor {
  if (index.dtype !== "int32") {
    throw new DTypeError(`oneHot: index must be int32, got ${index.dtype}`);
  }
  const b = index.backend;
  const ids = new Int32Array(classes);
  for (let i = 0; i < classes; i++) ids[i] = i;
  const range = fromBuffer(b, b.fromArray(ids), [classes], "int32");
  const hit = eq(reshape(index, [...index.shape, 1]), range);
  return cast(hit, dtype);
}

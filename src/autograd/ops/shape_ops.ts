/**
 * Shape ops: reshape, permute, transpose, expand and slice (views of the same storage, no
 * copy), concat, stack, squeeze.
 * @module
 */
import { fmtShape, ShapeError, ValueError } from "../errors.ts";
import { normAxis, sizeOf } from "../shape.ts";
import { record, sumToShape } from "../tape.ts";
import { fromBuffer, layoutOf, shareStorage, type Tensor, viewOf } from "../tensor.ts";
import { backendOf } from "./core.ts";

/**
 * The same data with another shape (one dim may be -1). Shares storage: no copy.
 * @example
 * ```ts
 * import { reshape, tensor } from "@lossforge/core";
 * console.log(await reshape(tensor([1, 2, 3, 4]), [2, -1]).array()); // [[1, 2], [3, 4]]
 * ```
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = [...shape];
  const hole = s.indexOf(-1);
  if (hole !== s.lastIndexOf(-1)) {
    throw new ShapeError(`reshape: more than one -1 in ${fmtShape(shape)}`);
  }
  if (hole >= 0) {
    const rest = sizeOf(s.filter((_, i) => i !== hole));
    if (rest === 0 || x.size % rest !== 0) {
      throw new ShapeError(
        `reshape: cannot reshape ${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(shape)}`,
      );
    }
    s[hole] = x.size / rest;
  }
  if (s.some((d) => !Number.isInteger(d) || d < 0) || sizeOf(s) !== x.size) {
    throw new ShapeError(
      `reshape: cannot reshape ${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(shape)}`,
    );
  }
  const from = x.shape;
  return record("reshape", shareStorage(x, s), [x], (g) => [reshape(g, from)]);
}

/**
 * Reorders axes: out.shape[i] = x.shape[dims[i]]. The result is a view (no copy).
 * @example
 * ```ts
 * import { permute, zeros } from "@lossforge/core";
 * console.log(permute(zeros([2, 3, 4]), [2, 0, 1]).shape); // [4, 2, 3]
 * ```
 */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const d = dims.map((a) => normAxis("permute", a, x.rank));
  if (d.length !== x.rank || new Set(d).size !== d.length) {
    throw new ValueError(
      `permute: dims ${JSON.stringify(dims)} are not a permutation of ${x.rank} axes`,
    );
  }
  if (d.every((a, i) => a === i)) return reshape(x, x.shape);
  // A view: the same storage read with permuted strides (no copy).
  const l = layoutOf(x);
  const shape = d.map((a) => x.shape[a]);
  const out = viewOf(x, shape, d.map((a) => l.strides[a]), l.offset);
  const inverse = new Array<number>(d.length);
  d.forEach((a, i) => (inverse[a] = i));
  return record("permute", out, [x], (g) => [permute(g, inverse)]);
}

/**
 * Swaps axes `a` and `b`. The result is a view (no copy).
 * @example
 * ```ts
 * import { tensor, transpose } from "@lossforge/core";
 * console.log(await transpose(tensor([[1, 2, 3], [4, 5, 6]])).array()); // [[1, 4], [2, 5], [3, 6]]
 * ```
 */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const dims = [...x.shape.keys()];
  const i = normAxis("transpose", a, x.rank), j = normAxis("transpose", b, x.rank);
  [dims[i], dims[j]] = [dims[j], dims[i]];
  return permute(x, dims);
}

/**
 * Broadcasts to `shape` (new leading axes allowed; -1 keeps a size), as a view (no copy).
 * Gradients sum back.
 * @example
 * ```ts
 * import { expand, tensor } from "@lossforge/core";
 * console.log(await expand(tensor([1, 2]), [3, 2]).array()); // [[1, 2], [1, 2], [1, 2]]
 * ```
 */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const lead = shape.length - x.rank;
  const target = shape.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead] : d));
  if (lead < 0 || x.shape.some((d, i) => d !== 1 && d !== target[i + lead])) {
    throw new ShapeError(`expand: cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  }
  if (lead === 0 && x.shape.every((d, i) => d === target[i])) return reshape(x, x.shape);
  // A view: stride 0 along the broadcast axes (no copy).
  const l = layoutOf(x);
  const strides = target.map((d, i) =>
    i < lead || (x.shape[i - lead] === 1 && d !== 1) ? 0 : l.strides[i - lead]
  );
  const out = viewOf(x, target, strides, l.offset);
  return record("expand", out, [x], (g) => [sumToShape(g, x.shape)]);
}

/**
 * A slice (a view, no copy): for each leading axis i, [starts[i], ends[i]) (negative values count
 * from the end; a missing end means "to the end"). Axes beyond `starts` are kept whole.
 * @example
 * ```ts
 * import { slice, tensor } from "@lossforge/core";
 * const x = tensor([[1, 2, 3], [4, 5, 6]]);
 * console.log(await slice(x, [0, 1], [1, 3]).array()); // [[2, 3]]
 * ```
 */
export function slice(
  x: Tensor,
  starts: readonly number[],
  ends?: readonly (number | undefined)[],
): Tensor {
  if (starts.length > x.rank) {
    throw new ShapeError(
      `slice: ${starts.length} starts for a tensor of rank ${x.rank} ${fmtShape(x.shape)}`,
    );
  }
  const begin: number[] = [], shape: number[] = [];
  for (let i = 0; i < x.rank; i++) {
    const n = x.shape[i];
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
    const s = i < starts.length ? clamp(starts[i]) : 0;
    const e = ends?.[i] === undefined || i >= starts.length ? n : clamp(ends[i] as number);
    begin.push(s);
    shape.push(Math.max(e - s, 0));
  }
  if (shape.every((d, i) => d === x.shape[i])) return reshape(x, x.shape);
  // A view: the same strides from a later offset (no copy).
  const l = layoutOf(x);
  const offset = begin.reduce((acc, s, i) => acc + s * l.strides[i], l.offset);
  const out = viewOf(x, shape, l.strides, offset);
  record("slice", out, [x], (g) => [padZeros(g, begin, x.shape)]);
  if (out._node) out._node.slice = { begin };
  return out;
}

/**
 * @internal The gradient of a tensor of `shape` from the gradients of slices of it (`g` at
 * `begin` each): when every slice is partial along one axis only and they do not overlap,
 * one concat along it with zeros in the gaps (a model's q/k/v split: one op instead of three
 * pads and two adds); otherwise each padded, then summed.
 */
export function joinSliceGrads(
  pieces: readonly { g: Tensor; begin: readonly number[] }[],
  shape: readonly number[],
): Tensor {
  let axis = -1, oneAxis = true;
  for (const { g, begin } of pieces) {
    for (let d = 0; d < shape.length; d++) {
      if (begin[d] === 0 && g.shape[d] === shape[d]) continue;
      if (axis === -1) axis = d;
      else if (axis !== d) oneAxis = false;
    }
  }
  if (oneAxis && axis >= 0) {
    const sorted = [...pieces].sort((a, b) => a.begin[axis] - b.begin[axis]);
    const parts: Tensor[] = [];
    let at = 0;
    for (const { g, begin } of sorted) {
      if (begin[axis] < at) {
        parts.length = 0; // overlapping slices: padded and summed below
        break;
      }
      if (begin[axis] > at) parts.push(zerosAlong(g, axis, begin[axis] - at));
      parts.push(g);
      at = begin[axis] + g.shape[axis];
    }
    if (parts.length > 0) {
      if (at < shape[axis]) parts.push(zerosAlong(parts[0], axis, shape[axis] - at));
      return parts.length === 1 ? parts[0] : concat(parts, axis);
    }
  }
  return pieces.map((p) => padZeros(p.g, [...p.begin], shape)).reduce((a, b) => a.add(b));
}

/** Zeros shaped like `like` except `n` along `axis`. */
function zerosAlong(like: Tensor, axis: number, n: number): Tensor {
  const s = [...like.shape];
  s[axis] = n;
  const b = like.backend;
  return fromBuffer(b, b.fill(sizeOf(s), 0, like.dtype), s, like.dtype);
}

/** Places `g` at offset `begin` inside zeros of `shape` (the adjoint of slice). */
function padZeros(g: Tensor, begin: number[], shape: readonly number[]): Tensor {
  let out = g;
  for (let ax = 0; ax < shape.length; ax++) {
    const before = begin[ax], after = shape[ax] - before - out.shape[ax];
    if (before === 0 && after === 0) continue;
    const parts: Tensor[] = [];
    if (before) parts.push(zerosAlong(out, ax, before));
    parts.push(out);
    if (after) parts.push(zerosAlong(out, ax, after));
    out = concat(parts, ax);
  }
  return out;
}

/**
 * Joins tensors along an existing axis.
 * @example
 * ```ts
 * import { concat, tensor } from "@lossforge/core";
 * console.log(await concat([tensor([1]), tensor([2, 3])]).array()); // [1, 2, 3]
 * ```
 */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new ValueError("concat: needs at least one tensor");
  const b = backendOf("concat", ...xs);
  const first = xs[0];
  const ax = normAxis("concat", axis, first.rank);
  for (const x of xs) {
    if (x.dtype !== first.dtype) {
      throw new ShapeError(`concat: dtypes differ: ${xs.map((t) => t.dtype).join(", ")}`);
    }
    if (x.rank !== first.rank || x.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      throw new ShapeError(
        `concat: shapes differ off axis ${ax}: ${xs.map((t) => fmtShape(t.shape)).join(", ")}`,
      );
    }
  }
  if (xs.length === 1) return reshape(first, first.shape);
  const shape = [...first.shape];
  shape[ax] = xs.reduce((n, x) => n + x.shape[ax], 0);
  const buf = b.concat(xs.map((x) => ({ buf: x.buf, shape: x.shape })), ax, shape, first.dtype);
  const out = fromBuffer(b, buf, shape, first.dtype);
  return record("concat", out, [...xs], (g) => {
    let at = 0;
    return xs.map((x) => {
      const s = at;
      at += x.shape[ax];
      if (!x._requiresGrad) return null;
      const starts = new Array<number>(ax + 1).fill(0),
        ends: (number | undefined)[] = new Array(ax + 1);
      starts[ax] = s;
      ends[ax] = at;
      return slice(g, starts, ends);
    });
  });
}

/**
 * Joins tensors of one shape along a new axis.
 * @example
 * ```ts
 * import { stack, tensor } from "@lossforge/core";
 * console.log(await stack([tensor([1, 2]), tensor([3, 4])], 1).array()); // [[1, 3], [2, 4]]
 * ```
 */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new ValueError("stack: needs at least one tensor");
  const ax = normAxis("stack", axis, xs[0].rank + 1);
  return concat(xs.map((x) => unsqueeze(x, ax)), ax);
}

/**
 * Removes size-1 axes: all of them, or just `axis`.
 * @example
 * ```ts
 * import { squeeze, zeros } from "@lossforge/core";
 * console.log(squeeze(zeros([1, 3, 1])).shape, squeeze(zeros([1, 3, 1]), 0).shape); // [3], [3, 1]
 * ```
 */
export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const ax = normAxis("squeeze", axis, x.rank);
  if (x.shape[ax] !== 1) {
    throw new ShapeError(
      `squeeze: axis ${axis} of ${fmtShape(x.shape)} has size ${x.shape[ax]}, not 1`,
    );
  }
  return reshape(x, x.shape.filter((_, i) => i !== ax));
}

/**
 * Inserts a size-1 axis at `axis` (negative counts from the end of the result).
 * @example
 * ```ts
 * import { unsqueeze, zeros } from "@lossforge/core";
 * console.log(unsqueeze(zeros([3]), 0).shape, unsqueeze(zeros([3]), -1).shape); // [1, 3], [3, 1]
 * ```
 */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const ax = normAxis("unsqueeze", axis, x.rank + 1);
  const s = [...x.shape];
  s.splice(ax, 0, 1);
  return reshape(x, s);
}

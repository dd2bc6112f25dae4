/**
 * Shape arithmetic: sizes, strides, broadcasting and axis normalisation.
 * @module
 */
import { fmtShape, ShapeError, ValueError } from "./errors.ts";

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a contiguous shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** NumPy broadcasting of two shapes; throws a ShapeError naming the op. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(
        `${op}: shapes cannot broadcast: ${fmtShape(a)} and ${
          fmtShape(b)
        } (axis ${i}: ${da} vs ${db})`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Strides to read a tensor of `shape` as if it had `outShape` (broadcast axes get stride 0).
 * `strides` are the tensor's own (default: contiguous row-major).
 */
export function broadcastStrides(
  shape: readonly number[],
  outShape: readonly number[],
  strides: readonly number[] = stridesOf(shape),
): number[] {
  const st = strides;
  const off = outShape.length - shape.length;
  const out = new Array<number>(outShape.length).fill(0);
  for (let i = 0; i < shape.length; i++) out[off + i] = shape[i] === 1 ? 0 : st[i];
  return out;
}

/** Normalises a possibly negative axis; throws a ValueError naming the op. */
export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || a < 0 || a >= rank) {
    throw new ValueError(`${op}: axis ${axis} out of range for rank ${rank}`);
  }
  return a;
}

/** Normalises an axis spec (a number, a list, or undefined for all) to sorted unique axes. */
export function normAxes(
  op: string,
  axis: number | readonly number[] | undefined,
  rank: number,
): number[] {
  if (axis === undefined) return [...Array(rank).keys()];
  const list = typeof axis === "number" ? [axis] : axis;
  const out = [...new Set(list.map((a) => normAxis(op, a, rank)))].sort((x, y) => x - y);
  if (out.length !== list.length) {
    throw new ValueError(`${op}: repeated axis in ${JSON.stringify(list)}`);
  }
  return out;
}

/** The shape after reducing `axes` (kept as 1 when `keepdim`). */
export function reducedShape(
  shape: readonly number[],
  axes: readonly number[],
  keepdim: boolean,
): number[] {
  const out: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    if (axes.includes(i)) {
      if (keepdim) out.push(1);
    } else out.push(shape[i]);
  }
  return out;
}

/** Whether two shapes are equal. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Checks a shape is a list of non-negative integers. */
export function checkShape(op: string, shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(`${op}: invalid shape ${fmtShape(shape)}`);
    }
  }
}

/**
 * Whether `strides` lay out `shape` contiguously in row-major order (size-1 axes may have any
 * stride; an empty tensor is contiguous whatever its strides).
 */
export function isContiguousLayout(shape: readonly number[], strides: readonly number[]): boolean {
  if (shape.includes(0)) return true;
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && strides[d] !== acc) return false;
    acc *= shape[d];
  }
  return true;
}

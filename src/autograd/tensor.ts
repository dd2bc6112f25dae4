/**
 * The Tensor handle: a shape, a dtype, a backend buffer (reference counted, so reshapes,
 * views and gradient leaves share storage), an optional strided layout over it (permute,
 * transpose, expand and slice make views without copying) and, when it is being
 * differentiated, the tape node that made it.
 * @module
 */
import type { Backend, Layout } from "./backend.ts";
import { type DType, isHalf, type TypedArray } from "./dtype.ts";
import { widenHalf } from "./half.ts";
import { BackendError, fmtShape } from "./errors.ts";
import { trackInScope, untrack } from "./scope.ts";
import { isContiguousLayout, sameShape, sizeOf, stridesOf } from "./shape.ts";
import * as ops from "./ops/mod.ts";

/** A backend buffer shared by every tensor that views it; freed when the last one goes. */
export class Storage {
  /** How many live tensors hold this storage. */
  refs = 1;
  /** Wraps a backend buffer of `size` elements. */
  constructor(readonly backend: Backend, readonly buf: unknown, readonly size: number) {}
  /** Drops one reference; frees the buffer at zero. */
  release(): void {
    if (--this.refs === 0) this.backend.free(this.buf);
  }
}

/**
 * A node of the tape: how to send a gradient from an op's output to its inputs.
 * @example
 * ```ts
 * import { type TapeNode, type Tensor, tensor } from "@lossforge/core";
 * // exp's node: the output's gradient times exp(x), one gradient per input.
 * const expNode = (x: Tensor, out: Tensor): TapeNode => ({
 *   op: "exp",
 *   inputs: [x],
 *   backward: (g) => [g.mul(out)],
 * });
 * const x = tensor([0, 1]);
 * const [dx] = expNode(x, x.exp()).backward(tensor([1, 1]));
 * console.log(await dx?.array()); // ≈ [1, 2.7183]
 * ```
 */
export interface TapeNode {
  /** The op's name, for error messages. */
  op: string;
  /** The op's inputs. */
  inputs: Tensor[];
  /** Given the output's gradient, the inputs' gradients (null: no gradient flows). */
  backward: (g: Tensor) => (Tensor | null)[];
  /**
   * Set by `slice`: where the output starts in its input. The tape joins the gradients of
   * slices of one tensor into one concat (zeros only in the gaps) instead of padding each with
   * zeros and adding them.
   */
  slice?: { readonly begin: readonly number[] };
}

let live = 0;
let nextId = 1;
const finalizer = new FinalizationRegistry<Storage>((s) => s.release());

/**
 * Number of tensors created and not yet disposed. Tests use it to prove `scope` frees
 * what it should.
 *
 * @example
 * ```ts
 * import { liveTensors, tensor } from "@lossforge/core";
 * const n = liveTensors();
 * tensor([1]).dispose();
 * console.log(liveTensors() === n); // true
 * ```
 */
export function liveTensors(): number {
  return live;
}

/**
 * A number or a tensor: binary ops take either.
 * @example
 * ```ts
 * import { type Tensor, tensor, type TensorLike } from "@lossforge/core";
 * const affine = (x: Tensor, a: TensorLike, b: TensorLike) => x.mul(a).add(b);
 * console.log(await affine(tensor([1, 2]), 2, tensor([0, 1])).array()); // [2, 5]
 * ```
 */
export type TensorLike = Tensor | number;

/**
 * An n-dimensional array on a backend. Ops are methods and free functions alike; each is
 * differentiable where that makes sense (see `grad`).
 *
 * @example
 * ```ts
 * import { tensor } from "@lossforge/core";
 * const x = tensor([[1, 2], [3, 4]]);
 * const y = x.matmul(x).add(1).sum();
 * console.log(await y.item()); // 58
 * ```
 */
export class Tensor {
  /** The dimensions. */
  readonly shape: readonly number[];
  /** The element type. */
  readonly dtype: DType;
  /** A unique id (handy in debugging and as a map key). */
  readonly id: number;
  /** @internal Marks tensors for tree walks without importing this class. */
  readonly _isTensor = true;
  /** @internal The shared storage; null once disposed. */
  _storage: Storage | null;
  /**
   * @internal How this tensor reads its storage when it is a strided view (permute, expand,
   * slice); null when it is contiguous from element 0. Elementwise primitives read views
   * directly; `buf` makes the view contiguous first (once) for every other consumer.
   */
  _layout: Layout | null;
  /** @internal The tape node that made this tensor, when recorded. */
  _node: TapeNode | null = null;
  /** @internal Whether gradients flow to this tensor. */
  _requiresGrad = false;

  /** @internal Use `tensor()` and the ops to make tensors. */
  constructor(
    storage: Storage,
    shape: readonly number[],
    dtype: DType,
    layout: Layout | null = null,
  ) {
    this._storage = storage;
    this.shape = Object.freeze([...shape]);
    // A view that reads the whole storage in row-major order is just a contiguous tensor (a
    // prefix slice is not: contiguous tensors own exactly `size` elements).
    this._layout = layout && (layout.offset !== 0 || sizeOf(shape) !== storage.size ||
        !isContiguousLayout(shape, layout.strides))
      ? { strides: Object.freeze([...layout.strides]), offset: layout.offset }
      : null;
    this.dtype = dtype;
    this.id = nextId++;
    live++;
    finalizer.register(this, storage, this);
    trackInScope(this);
  }

  /** The backend the data lives on. */
  get backend(): Backend {
    return this.storage.backend;
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** Whether `dispose()` was called. */
  get disposed(): boolean {
    return this._storage === null;
  }

  /** Whether gradients flow to this tensor (it is a differentiated input or depends on one). */
  get requiresGrad(): boolean {
    return this._requiresGrad;
  }

  /** @internal The storage, or an error naming the tensor when it was disposed. */
  get storage(): Storage {
    if (!this._storage) {
      throw new BackendError(`tensor #${this.id} ${fmtShape(this.shape)} was disposed`);
    }
    return this._storage;
  }

  /**
   * Whether the data is laid out contiguously (row-major from element 0). Views made by
   * `transpose`, `permute`, `expand` and `slice` are not; elementwise ops read them directly,
   * and other ops copy them once (see `buf`).
   */
  get isContiguous(): boolean {
    return this._layout === null;
  }

  /** Elements to step per index of each axis in the underlying storage. */
  get strides(): readonly number[] {
    return this._layout?.strides ?? stridesOf(this.shape);
  }

  /**
   * @internal The backend buffer, contiguous row-major: a strided view is copied into a
   * fresh buffer once (the tensor then holds that copy and lets go of the shared storage),
   * so every primitive that needs contiguous input can read `buf`. Elementwise ops read
   * `storage.buf` with `_layout` instead.
   */
  get buf(): unknown {
    const s = this.storage;
    const l = this._layout;
    if (!l) return s.buf;
    const copy = new Storage(
      s.backend,
      s.backend.strided(s.buf, this.shape, l.strides, l.offset, this.dtype),
      this.size,
    );
    finalizer.unregister(this);
    this._storage = copy;
    this._layout = null;
    finalizer.register(this, copy, this);
    s.release();
    return copy.buf;
  }

  /**
   * Reads the values back as a typed array (a copy) in logical (row-major) order; a half
   * tensor's values come back widened to a Float32Array (exact). On WebGPU this flushes
   * queued work.
   */
  async data(): Promise<TypedArray> {
    const s = this.storage, l = this._layout, b = s.backend, dtype = this.dtype;
    let values: TypedArray;
    if (!l) values = await b.read(s.buf, dtype, this.size);
    else {
      // A view: read through a temporary contiguous copy (the view itself stays a view).
      const tmp = b.strided(s.buf, this.shape, l.strides, l.offset, dtype);
      try {
        values = await b.read(tmp, dtype, this.size);
      } finally {
        b.free(tmp);
      }
    }
    return isHalf(dtype) ? widenHalf(values as Uint16Array, dtype) : values;
  }

  /** Reads the single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) {
      throw new BackendError(
        `item: tensor has ${this.size} elements, shape ${fmtShape(this.shape)}`,
      );
    }
    return (await this.data())[0];
  }

  /** Reads the values back as nested arrays of numbers. */
  async array(): Promise<NestedArray> {
    const d = await this.data();
    const build = (dim: number, off: number): NestedArray => {
      if (dim === this.shape.length) return d[off];
      const step = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, off + i * step));
    };
    return build(0, 0);
  }

  /** Frees this tensor's hold on its buffer. Safe to call twice. */
  dispose(): void {
    if (!this._storage) return;
    const s = this._storage;
    this._storage = null;
    this._node = null;
    finalizer.unregister(this);
    untrack(this);
    live--;
    s.release();
  }

  /** A short description: `Tensor(float32 [2,3] cpu)`. */
  toString(): string {
    return `Tensor(${this.dtype} ${fmtShape(this.shape)} ${
      this._storage?.backend.name ?? "disposed"
    })`;
  }

  /** Elementwise a + b (broadcasting). */
  add(b: TensorLike): Tensor {
    return ops.add(this, b);
  }
  /** Elementwise a - b. */
  sub(b: TensorLike): Tensor {
    return ops.sub(this, b);
  }
  /** Elementwise a * b. */
  mul(b: TensorLike): Tensor {
    return ops.mul(this, b);
  }
  /** Elementwise a / b. */
  div(b: TensorLike): Tensor {
    return ops.div(this, b);
  }
  /** Elementwise a ** b. */
  pow(b: TensorLike): Tensor {
    return ops.pow(this, b);
  }
  /** Elementwise maximum. */
  maximum(b: TensorLike): Tensor {
    return ops.maximum(this, b);
  }
  /** Elementwise minimum. */
  minimum(b: TensorLike): Tensor {
    return ops.minimum(this, b);
  }
  /** 1 where a == b else 0. */
  eq(b: TensorLike): Tensor {
    return ops.eq(this, b);
  }
  /** 1 where a != b else 0. */
  ne(b: TensorLike): Tensor {
    return ops.ne(this, b);
  }
  /** 1 where a < b else 0. */
  lt(b: TensorLike): Tensor {
    return ops.lt(this, b);
  }
  /** 1 where a <= b else 0. */
  le(b: TensorLike): Tensor {
    return ops.le(this, b);
  }
  /** 1 where a > b else 0. */
  gt(b: TensorLike): Tensor {
    return ops.gt(this, b);
  }
  /** 1 where a >= b else 0. */
  ge(b: TensorLike): Tensor {
    return ops.ge(this, b);
  }
  /** -x. */
  neg(): Tensor {
    return ops.neg(this);
  }
  /** e^x. */
  exp(): Tensor {
    return ops.exp(this);
  }
  /** Natural log. */
  log(): Tensor {
    return ops.log(this);
  }
  /** Square root. */
  sqrt(): Tensor {
    return ops.sqrt(this);
  }
  /** 1 / sqrt(x). */
  rsqrt(): Tensor {
    return ops.rsqrt(this);
  }
  /** x * x. */
  square(): Tensor {
    return ops.square(this);
  }
  /** |x|. */
  abs(): Tensor {
    return ops.abs(this);
  }
  /** tanh(x). */
  tanh(): Tensor {
    return ops.tanh(this);
  }
  /** 1 / (1 + e^-x). */
  sigmoid(): Tensor {
    return ops.sigmoid(this);
  }
  /** max(x, 0). */
  relu(): Tensor {
    return ops.relu(this);
  }
  /** GELU (tanh approximation, as GPT-2). */
  gelu(): Tensor {
    return ops.gelu(this);
  }
  /** x * sigmoid(x). */
  silu(): Tensor {
    return ops.silu(this);
  }
  /** Sum over `axis` (a number, a list, or all when omitted). */
  sum(axis?: number | number[], keepdim = false): Tensor {
    return ops.sum(this, axis, keepdim);
  }
  /** Mean over `axis`. */
  mean(axis?: number | number[], keepdim = false): Tensor {
    return ops.mean(this, axis, keepdim);
  }
  /** Maximum over `axis`. */
  max(axis?: number | number[], keepdim = false): Tensor {
    return ops.max(this, axis, keepdim);
  }
  /** Minimum over `axis`. */
  min(axis?: number | number[], keepdim = false): Tensor {
    return ops.min(this, axis, keepdim);
  }
  /** log(sum(exp(x))) over `axis`, computed stably. */
  logsumexp(axis?: number | number[], keepdim = false): Tensor {
    return ops.logsumexp(this, axis, keepdim);
  }
  /** Index of the largest value along `axis` (int32, no gradient). */
  argmax(axis = -1, keepdim = false): Tensor {
    return ops.argmax(this, axis, keepdim);
  }
  /** Softmax along `axis` (default last). */
  softmax(axis = -1): Tensor {
    return ops.softmax(this, axis);
  }
  /** log(softmax(x)) along `axis`, computed stably. */
  logSoftmax(axis = -1): Tensor {
    return ops.logSoftmax(this, axis);
  }
  /** Batched matrix product (batch dims broadcast). */
  matmul(b: Tensor): Tensor {
    return ops.matmul(this, b);
  }
  /** Same data, new shape (one dim may be -1). */
  reshape(shape: readonly number[]): Tensor {
    return ops.reshape(this, shape);
  }
  /** Flattens to one dimension. */
  flatten(): Tensor {
    return ops.reshape(this, [-1]);
  }
  /** Swaps two axes. */
  transpose(a = -2, b = -1): Tensor {
    return ops.transpose(this, a, b);
  }
  /** Reorders axes. */
  permute(dims: readonly number[]): Tensor {
    return ops.permute(this, dims);
  }
  /** Broadcasts to `shape`. */
  expand(shape: readonly number[]): Tensor {
    return ops.expand(this, shape);
  }
  /** A slice: `starts`/`ends` per leading axis (negative counts from the end). */
  slice(starts: readonly number[], ends?: readonly (number | undefined)[]): Tensor {
    return ops.slice(this, starts, ends);
  }
  /** Removes size-1 axes (all, or the given one). */
  squeeze(axis?: number): Tensor {
    return ops.squeeze(this, axis);
  }
  /** Inserts a size-1 axis. */
  unsqueeze(axis: number): Tensor {
    return ops.unsqueeze(this, axis);
  }
  /** torch.gather along `axis`. */
  gather(axis: number, index: Tensor): Tensor {
    return ops.gather(this, axis, index);
  }
  /** Rows by index: out[...i, :] = x[index[...i], :]. */
  take(index: Tensor): Tensor {
    return ops.take(this, index);
  }
  /** Out-of-place torch.scatter_add. */
  scatterAdd(axis: number, index: Tensor, src: Tensor): Tensor {
    return ops.scatterAdd(this, axis, index, src);
  }
  /** Sorted values along the last axis (stable). */
  sort(descending = false): Tensor {
    return ops.sort(this, descending);
  }
  /** Sorting permutation along the last axis (stable, int32). */
  argsort(descending = false): Tensor {
    return ops.argsort(this, descending);
  }
  /** Inclusive cumulative sum along `axis`. */
  cumsum(axis = -1): Tensor {
    return ops.cumsum(this, axis);
  }
  /** Converts the dtype. */
  cast(dtype: DType): Tensor {
    return ops.cast(this, dtype);
  }
}

/**
 * Nested arrays of numbers, as `Tensor.array()` returns them.
 *
 * @example
 * ```ts
 * import { type NestedArray, tensor } from "@lossforge/core";
 * const rows: NestedArray = await tensor([[1, 2], [3, 4]]).transpose().array();
 * console.log(rows, tensor(rows).shape); // [[1, 3], [2, 4]], [2, 2]
 * ```
 */
export type NestedArray = number | NestedArray[];

/** @internal Wraps a fresh backend buffer in a tensor. */
export function fromBuffer(
  backend: Backend,
  buf: unknown,
  shape: readonly number[],
  dtype: DType,
): Tensor {
  return new Tensor(new Storage(backend, buf, sizeOf(shape)), shape, dtype);
}

/**
 * @internal A new tensor sharing `t`'s storage with another shape of the same size. A strided
 * view keeps its layout when the shape is unchanged; otherwise it is made contiguous first.
 */
export function shareStorage(t: Tensor, shape: readonly number[]): Tensor {
  if (t._layout && !sameShape(shape, t.shape)) void t.buf;
  const s = t.storage;
  s.refs++;
  return new Tensor(s, shape, t.dtype, t._layout);
}

/**
 * @internal A strided view of `t`'s storage: element idx of the result is
 * storage[offset + Σ idx_d · strides[d]] (no copy).
 */
export function viewOf(
  t: Tensor,
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
): Tensor {
  const s = t.storage;
  s.refs++;
  return new Tensor(s, shape, t.dtype, { strides, offset });
}

/** @internal The layout `t` reads its storage with (contiguous strides and offset 0 when not a view). */
export function layoutOf(t: Tensor): Layout {
  return t._layout ?? { strides: stridesOf(t.shape), offset: 0 };
}

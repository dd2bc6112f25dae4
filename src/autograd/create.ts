/**
 * Making tensors: from data, filled, ranges, identity, random.
 * @module
 */
import { backendInstance, type BackendName, currentBackendName } from "./backend.ts";
import { convertArray, type DType, dtypeOfArray, isHalf, type TypedArray } from "./dtype.ts";
import { DTypeError, fmtShape, ShapeError } from "./errors.ts";
import { type Rng, rng as makeRng } from "./rng.ts";
import { checkShape, sizeOf } from "./shape.ts";
import { fromBuffer, type NestedArray, type Tensor } from "./tensor.ts";

/**
 * Options for making a tensor.
 *
 * @example
 * ```ts
 * import { type TensorOptions, zeros } from "@lossforge/core";
 * const bias = (n: number, opts?: TensorOptions) => zeros([n], opts);
 * console.log(bias(3, { dtype: "float64", backend: "cpu" }).dtype); // "float64"
 * ```
 */
export interface TensorOptions {
  /** Element type (default float32, or the typed array's own). */
  dtype?: DType;
  /** Backend (default: the current one, see `setBackend`). */
  backend?: BackendName;
}

function place(
  data: TypedArray,
  shape: readonly number[],
  dtype: DType,
  opts: TensorOptions & { copy?: boolean },
): Tensor {
  const b = backendInstance(opts.backend ?? currentBackendName());
  const buf = opts.copy === false && b.adopt ? b.adopt(data) : b.fromArray(data);
  return fromBuffer(b, buf, shape, dtype);
}

function flatten(data: NestedArray, shape: number[], out: number[], depth: number): void {
  if (typeof data === "number") {
    if (depth !== shape.length) {
      throw new ShapeError(`tensor: ragged nested array at depth ${depth}`);
    }
    out.push(data);
    return;
  }
  if (!Array.isArray(data)) {
    throw new TypeError(`tensor: expected numbers or arrays, got ${typeof data}`);
  }
  if (depth === shape.length) {
    // A new, deeper level after numbers were already read at a shallower one: ragged.
    if (out.length) throw new ShapeError(`tensor: ragged nested array at depth ${depth}`);
    shape.push(data.length);
  } else if (shape[depth] !== data.length) {
    throw new ShapeError(
      `tensor: ragged nested array: length ${data.length} where ${
        shape[depth]
      } was expected at depth ${depth}`,
    );
  }
  for (const d of data) flatten(d, shape, out, depth + 1);
}

/**
 * Options of {@linkcode tensor}.
 *
 * @example
 * ```ts
 * import { tensor, type TensorDataOptions } from "@lossforge/core";
 * const weights = new Float32Array(6);
 * // The CPU backend keeps this very array as the tensor's storage: no second copy.
 * const opts: TensorDataOptions = { shape: [2, 3], copy: false };
 * console.log(tensor(weights, opts).shape); // [2, 3]
 * ```
 */
export interface TensorDataOptions extends TensorOptions {
  /** The shape (default: the data's own). */
  shape?: readonly number[];
  /**
   * `false` hands a typed array of the tensor's dtype over instead of copying it: the CPU
   * backend keeps it as the tensor's storage (the caller must not change it afterwards);
   * WebGPU uploads it either way. Default true (a copy). Loaders use it so that a large
   * checkpoint is held once.
   */
  copy?: boolean;
}

/**
 * Makes a tensor from a number, nested arrays or a typed array. A `Uint16Array` holds raw
 * bits of a half-precision dtype, named by `dtype` ("bfloat16" or "float16"); numbers given
 * for a half dtype are rounded to it.
 *
 * @example
 * ```ts
 * import { tensor } from "@lossforge/core";
 * const a = tensor([[1, 2], [3, 4]]);
 * const b = tensor(new Float32Array(6), { shape: [2, 3] });
 * const ids = tensor([1, 2, 3], { dtype: "int32" });
 * console.log(a.shape, b.shape, ids.dtype); // [2, 2], [2, 3], "int32"
 * ```
 */
export function tensor(
  data: NestedArray | TypedArray | readonly number[],
  opts: TensorDataOptions = {},
): Tensor {
  let flat: ArrayLike<number>;
  let shape: number[];
  let dtype = opts.dtype;
  if (data instanceof Uint16Array && !(dtype && isHalf(dtype))) {
    throw new DTypeError(
      `tensor: a Uint16Array holds raw half-precision bits: give dtype "bfloat16" or "float16"${
        dtype ? `, not "${dtype}"` : ""
      }`,
    );
  }
  if (ArrayBuffer.isView(data)) {
    flat = data;
    shape = [data.length];
    dtype ??= dtypeOfArray(data);
  } else {
    const out: number[] = [];
    shape = [];
    flatten(data as NestedArray, shape, out, 0);
    flat = out;
  }
  dtype ??= "float32";
  if (opts.shape) {
    checkShape("tensor", opts.shape);
    if (sizeOf(opts.shape) !== flat.length) {
      throw new ShapeError(
        `tensor: shape ${fmtShape(opts.shape)} needs ${
          sizeOf(opts.shape)
        } values, got ${flat.length}`,
      );
    }
    shape = [...opts.shape];
  }
  const same = flat instanceof Uint16Array ||
    (ArrayBuffer.isView(flat) && dtypeOfArray(flat as TypedArray) === dtype);
  const arr = same ? flat as TypedArray : convertArray(flat, dtype);
  return place(arr, shape, dtype, same ? opts : { ...opts, copy: false });
}

/**
 * A tensor of `shape` filled with `value`.
 *
 * @example
 * ```ts
 * import { full } from "@lossforge/core";
 * console.log(await full([2], 7).array()); // [7, 7]
 * ```
 */
export function full(shape: readonly number[], value: number, opts: TensorOptions = {}): Tensor {
  checkShape("full", shape);
  const dtype = opts.dtype ?? "float32";
  const b = backendInstance(opts.backend ?? currentBackendName());
  if (isHalf(dtype)) {
    throw new DTypeError(
      `full: ${dtype} is storage for frozen weights: make them with tensor(values, { dtype })`,
    );
  }
  if (dtype === "float64" && b.name !== "cpu") {
    throw new DTypeError(`full: float64 exists on the cpu backend only, not on ${b.name}`);
  }
  return fromBuffer(b, b.fill(sizeOf(shape), value, dtype), shape, dtype);
}

/**
 * Zeros of `shape`.
 *
 * @example
 * ```ts
 * import { zeros } from "@lossforge/core";
 * console.log(await zeros([2, 3]).array()); // [[0, 0, 0], [0, 0, 0]]
 * ```
 */
export function zeros(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return full(shape, 0, opts);
}

/**
 * Ones of `shape`.
 *
 * @example
 * ```ts
 * import { ones } from "@lossforge/core";
 * console.log(await ones([2]).array()); // [1, 1]
 * ```
 */
export function ones(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return full(shape, 1, opts);
}

/**
 * Evenly spaced values in [start, end) (one argument: [0, start)). Default dtype: int32
 * when all arguments are integers, else float32.
 *
 * @example
 * ```ts
 * import { arange } from "@lossforge/core";
 * console.log(await arange(4).array()); // [0, 1, 2, 3] (int32: integer arguments)
 * console.log(await arange(0, 1, 0.25).array()); // [0, 0.25, 0.5, 0.75]
 * ```
 */
export function arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0) throw new RangeError("arange: step must not be 0");
  const n = Math.max(0, Math.ceil((end - start) / step));
  const ints = [start, end, step].every(Number.isInteger);
  const values = Array.from({ length: n }, (_, i) => start + i * step);
  return tensor(values, {
    dtype: opts.dtype ?? (ints ? "int32" : "float32"),
    backend: opts.backend,
    shape: [n],
  });
}

/**
 * The n × n identity matrix.
 *
 * @example
 * ```ts
 * import { eye } from "@lossforge/core";
 * console.log(await eye(2).array()); // [[1, 0], [0, 1]]
 * ```
 */
export function eye(n: number, opts: TensorOptions = {}): Tensor {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) a[i * n + i] = 1;
  return tensor(a, { dtype: opts.dtype ?? "float32", backend: opts.backend, shape: [n, n] });
}

/**
 * Options for random tensors.
 *
 * @example
 * ```ts
 * import { rand, randn, rng } from "@lossforge/core";
 * const r = rng(0); // one generator for both: reproducible by seed
 * const u = rand([2], { rng: r, low: -1, high: 1 }); // uniform in [-1, 1)
 * const w = randn([2, 2], { rng: r, mean: 0, std: 0.02 }); // normal, as GPT-2 initialises
 * console.log(u.shape, w.shape); // [2], [2, 2]
 * ```
 */
export interface RandomOptions extends TensorOptions {
  /** The generator (default: a module-level one seeded with 0). */
  rng?: Rng;
  /** Lower bound of `rand` (default 0). */
  low?: number;
  /** Upper bound of `rand` (default 1). */
  high?: number;
  /** Mean of `randn` (default 0). */
  mean?: number;
  /** Standard deviation of `randn` (default 1). */
  std?: number;
}

let defaultRng: Rng = makeRng(0);

/**
 * Re-seeds the generator that `rand` and `randn` use when no `rng` is given.
 *
 * @example
 * ```ts
 * import { rand, seed } from "@lossforge/core";
 * seed(42);
 * const a = await rand([2]).data();
 * seed(42);
 * console.log(a.join() === (await rand([2]).data()).join()); // true: same numbers again
 * ```
 */
export function seed(value: number): void {
  defaultRng = makeRng(value);
}

/**
 * Uniform samples in [low, high).
 *
 * @example
 * ```ts
 * import { rand, rng } from "@lossforge/core";
 * console.log(await rand([3], { rng: rng(1) }).array()); // ≈ [0.5686, 0.8894, 0.4706]
 * ```
 */
export function rand(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  checkShape("rand", shape);
  const r = opts.rng ?? defaultRng;
  const lo = opts.low ?? 0, hi = opts.high ?? 1;
  const a = new Float64Array(sizeOf(shape));
  for (let i = 0; i < a.length; i++) a[i] = lo + (hi - lo) * r.uniform();
  return tensor(a, { dtype: opts.dtype ?? "float32", backend: opts.backend, shape });
}

/**
 * Normal samples with `mean` and `std`.
 *
 * @example
 * ```ts
 * import { randn, rng } from "@lossforge/core";
 * const w = randn([256, 64], { rng: rng(1), std: 0.02 });
 * console.log(w.shape, await w.square().mean().sqrt().item()); // [256, 64], ≈ 0.02
 * ```
 */
export function randn(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  checkShape("randn", shape);
  const r = opts.rng ?? defaultRng;
  const mu = opts.mean ?? 0, sd = opts.std ?? 1;
  const a = new Float64Array(sizeOf(shape));
  for (let i = 0; i < a.length; i++) a[i] = mu + sd * r.normal();
  return tensor(a, { dtype: opts.dtype ?? "float32", backend: opts.backend, shape });
}

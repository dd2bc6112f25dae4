/**
 * The backend contract: a small set of primitives over contiguous buffers. Every other op is
 * composed from these in `src/autograd/ops`. The CPU backend (`src/cpu`) is the readable
 * oracle; the WebGPU backend (`src/gpu`) must agree with it within float32 tolerance.
 *
 * Buffers are opaque to the engine (`unknown`); a backend only sees its own. Inputs are
 * contiguous row-major, except that the elementwise primitives (`unary`, `binary`, `where`)
 * also read strided views (a `Layout` per input: transposed, permuted, expanded or sliced
 * tensors, read without a copy). Every primitive returns a fresh contiguous buffer it owns.
 * @module
 */
import type { DType, HalfDType, TypedArray } from "./dtype.ts";
import { BackendError } from "./errors.ts";

/**
 * The name of a backend.
 *
 * @example
 * ```ts
 * import { type BackendName, setBackend, tensor } from "@lossforge/core";
 * const onBackend = async (name: BackendName) => {
 *   await setBackend(name);
 *   return tensor([1, 2]).backend.name;
 * };
 * console.log(await onBackend("cpu")); // "cpu"
 * ```
 */
export type BackendName = "cpu" | "webgpu";

/**
 * Elementwise functions of one argument. `step` is 1 where x > 0 else 0; `recip` is 1/x.
 *
 * @example
 * ```ts
 * import { backendInstance, type UnaryOp } from "@lossforge/core";
 * // The primitive every elementwise op of one argument runs, on a backend's own buffers.
 * const cpu = backendInstance("cpu");
 * const apply = (op: UnaryOp, xs: number[]) => {
 *   const out = cpu.unary(op, cpu.fromArray(new Float32Array(xs)), xs.length, "float32");
 *   return cpu.read(out, "float32", xs.length);
 * };
 * console.log(await apply("relu", [-1, 2])); // Float32Array [0, 2]
 * ```
 */
export type UnaryOp =
  | "neg"
  | "exp"
  | "log"
  | "sqrt"
  | "rsqrt"
  | "abs"
  | "sign"
  | "tanh"
  | "sigmoid"
  | "relu"
  | "gelu"
  | "silu"
  | "sin"
  | "cos"
  | "square"
  | "recip"
  | "step"
  | "floor";

/**
 * Elementwise functions of two broadcast arguments. Comparisons return 1 or 0 in the
 * input dtype.
 *
 * @example
 * ```ts
 * import { backendInstance, type BinaryOp } from "@lossforge/core";
 * const cpu = backendInstance("cpu");
 * const f32 = (xs: number[]) => cpu.fromArray(new Float32Array(xs));
 * // a [2, 1] and b [2] broadcast to [2, 2].
 * const apply = (op: BinaryOp) =>
 *   cpu.binary(op, f32([1, 2]), [2, 1], f32([2, 0]), [2], [2, 2], "float32");
 * console.log(await cpu.read(apply("maximum"), "float32", 4)); // Float32Array [2, 1, 2, 2]
 * ```
 */
export type BinaryOp =
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "pow"
  | "maximum"
  | "minimum"
  | "eq"
  | "ne"
  | "lt"
  | "le"
  | "gt"
  | "ge";

/**
 * Reductions. `sum` of nothing is 0; `max` of nothing is -Infinity, `min` +Infinity.
 *
 * @example
 * ```ts
 * import { backendInstance, type ReduceOp } from "@lossforge/core";
 * const cpu = backendInstance("cpu");
 * const rows = cpu.fromArray(new Float32Array([1, 5, 3, 2])); // [[1, 5], [3, 2]]
 * const perRow = (op: ReduceOp) =>
 *   cpu.read(cpu.reduce(op, rows, [2, 2], [1], "float32"), "float32", 2);
 * console.log(await perRow("sum")); // Float32Array [6, 5]
 * console.log(await perRow("max")); // Float32Array [5, 3]
 * ```
 */
export type ReduceOp = "sum" | "max" | "min";

/**
 * Shapes of a batched matmul. `a` is `[...aBatch, m, k]` (or `[...aBatch, k, m]` when
 * `transA`), `b` is `[...bBatch, k, n]` (or `[...bBatch, n, k]` when `transB`); batch dims
 * broadcast to `outBatch`; the result is `[...outBatch, m, n]`.
 *
 * @example
 * ```ts
 * import { backendInstance, type MatmulSpec } from "@lossforge/core";
 * const cpu = backendInstance("cpu");
 * // [1, 2] @ [2, 1], no batch dims.
 * const spec: MatmulSpec = {
 *   aBatch: [], bBatch: [], outBatch: [], m: 1, k: 2, n: 1, transA: false, transB: false,
 * };
 * const a = cpu.fromArray(new Float32Array([1, 2])), b = cpu.fromArray(new Float32Array([3, 4]));
 * const out = cpu.matmul(a, b, spec, "float32");
 * console.log(await cpu.read(out, "float32", 1)); // Float32Array [11]
 * ```
 */
export interface MatmulSpec {
  /** Batch dims of a (may be shorter than outBatch). */
  aBatch: number[];
  /** Batch dims of b. */
  bBatch: number[];
  /** Broadcast batch dims of the result. */
  outBatch: number[];
  /** Rows of the result. */
  m: number;
  /** Contracted dimension. */
  k: number;
  /** Columns of the result. */
  n: number;
  /** Read a as its transpose (a stored `[k, m]`). */
  transA: boolean;
  /** Read b as its transpose (b stored `[n, k]`). */
  transB: boolean;
  /**
   * The storage dtype of a, when it is half precision (`bfloat16` / `float16`): the backend
   * widens it to float32 as it reads it (the product's dtype is then float32). Absent: a has
   * the product's dtype.
   */
  aDtype?: HalfDType;
  /** The storage dtype of b, when it is half precision (as `aDtype`). */
  bDtype?: HalfDType;
}

/**
 * Sizes of a fused attention (see `Backend.attention`).
 *
 * @example
 * ```ts
 * import { type AttentionSpec, backendInstance } from "@lossforge/core";
 * const cpu = backendInstance("cpu");
 * const f32 = (xs: number[]) => cpu.fromArray(new Float32Array(xs));
 * // One head, one query, two keys of width 1: q = 0 scores both keys alike, so out = mean of v.
 * const spec: AttentionSpec = {
 *   batch: 1, heads: 1, kvHeads: 1, t: 1, tk: 2, d: 1, scale: 1, maskBatch: 0, causal: false,
 * };
 * const { out } = cpu.attention!(f32([0]), f32([1, 1]), f32([2, 4]), null, spec, "float32");
 * console.log(await cpu.read(out, "float32", 1)); // Float32Array [3]
 * ```
 */
export interface AttentionSpec {
  /** B. */
  batch: number;
  /** Query heads H. */
  heads: number;
  /** Key/value heads Hkv (H is a multiple). */
  kvHeads: number;
  /** Query positions T. */
  t: number;
  /** Key positions Tk. */
  tk: number;
  /** Head width d. */
  d: number;
  /** Multiplier of q kᵀ (usually 1/√d). */
  scale: number;
  /** Batch rows of the mask: 0 (no mask), 1 (shared by the batch) or B. */
  maskBatch: number;
  /**
   * Causal: query i sees keys j ≤ i + (Tk − T) only (Tk ≥ T); the others are left out of the
   * softmax altogether, and kernels skip them.
   */
  causal: boolean;
}

/**
 * Where a strided input's elements live in its buffer: element `idx` of an input of shape
 * `shape` is at `offset + Σ idx_d · strides[d]` (strides over the input's own axes; 0 on an
 * expanded axis). An absent layout means contiguous row-major from element 0.
 *
 * @example
 * ```ts
 * import { backendInstance, type Layout } from "@lossforge/core";
 * const cpu = backendInstance("cpu");
 * const a = cpu.fromArray(new Float32Array([1, 2, 3, 4, 5, 6])); // [[1, 2, 3], [4, 5, 6]]
 * const transposed: Layout = { strides: [1, 3], offset: 0 }; // read as its [3, 2] transpose
 * const out = cpu.unary("neg", a, 6, "float32", [3, 2], transposed);
 * console.log(await cpu.read(out, "float32", 6)); // Float32Array [-1, -4, -2, -5, -3, -6]
 * ```
 */
export interface Layout {
  /** Elements to step per index of each axis. */
  readonly strides: readonly number[];
  /** Element offset of index 0. */
  readonly offset: number;
}

/**
 * What a backend implements. Implementations: `src/cpu/backend.ts`, `src/gpu/backend.ts`.
 *
 * Half-precision storage (`bfloat16`, `float16`; see `DType`) reaches only `fromArray`,
 * `adopt`, `read` (raw bits as a `Uint16Array`), `free`, `strided` (bits moved unchanged),
 * `matmul` (through `MatmulSpec.aDtype` / `bDtype`), `gather` (which then writes float32: the
 * rows widened) and `cast`; the ops layer keeps it from every other primitive.
 *
 * @example
 * ```ts
 * import { backendInstance, tensor } from "@lossforge/core";
 * const b = backendInstance("cpu");
 * const buf = b.fill(3, 0.5, "float32"); // a buffer this backend owns
 * console.log(await b.read(buf, "float32", 3)); // Float32Array [0.5, 0.5, 0.5]
 * b.free(buf);
 * console.log(tensor([1]).backend === b); // true: a tensor holds its backend
 * ```
 */
export interface Backend {
  /** The backend's name. */
  readonly name: BackendName;
  /** Uploads a typed array (its dtype is the buffer's dtype; a Uint16Array: half bits). */
  fromArray(data: TypedArray): unknown;
  /**
   * Optional: takes `data` over as a buffer without copying it (the caller never touches it
   * again). The CPU backend has it, so a loaded checkpoint is held once; without it,
   * `fromArray` is used.
   */
  adopt?(data: TypedArray): unknown;
  /** Reads `size` elements back. GPU backends flush pending work first. */
  read(buf: unknown, dtype: DType, size: number): Promise<TypedArray>;
  /** Releases a buffer (returns it to a pool where there is one). */
  free(buf: unknown): void;
  /** A buffer of `size` copies of `value`. */
  fill(size: number, value: number, dtype: DType): unknown;
  /**
   * out[i] = op(a[i]). With `layout`, `a` is read as a strided view of shape `shape` (row-major
   * order of that shape); the output is contiguous.
   */
  unary(
    op: UnaryOp,
    a: unknown,
    size: number,
    dtype: DType,
    shape?: readonly number[],
    layout?: Layout,
  ): unknown;
  /**
   * out = op(a, b) with NumPy broadcasting; a and b have the same dtype. `aLayout`/`bLayout`
   * read an input as a strided view of its shape (absent: contiguous).
   */
  binary(
    op: BinaryOp,
    a: unknown,
    aShape: readonly number[],
    b: unknown,
    bShape: readonly number[],
    outShape: readonly number[],
    dtype: DType,
    aLayout?: Layout,
    bLayout?: Layout,
  ): unknown;
  /**
   * out = cond != 0 ? a : b, broadcast; a and b have `dtype`, cond has `condDtype`. Layouts
   * as in `binary`.
   */
  where(
    cond: unknown,
    condShape: readonly number[],
    condDtype: DType,
    a: unknown,
    aShape: readonly number[],
    b: unknown,
    bShape: readonly number[],
    outShape: readonly number[],
    dtype: DType,
    condLayout?: Layout,
    aLayout?: Layout,
    bLayout?: Layout,
  ): unknown;
  /** Reduces `axes` (sorted, unique); the result has the remaining axes in order. */
  reduce(
    op: ReduceOp,
    a: unknown,
    shape: readonly number[],
    axes: readonly number[],
    dtype: DType,
  ): unknown;
  /** Index (int32) of the largest value along `axis` (first one on ties). */
  argmax(a: unknown, shape: readonly number[], axis: number, dtype: DType): unknown;
  /** Batched matmul with optional transposed operands. */
  matmul(a: unknown, b: unknown, spec: MatmulSpec, dtype: DType): unknown;
  /**
   * A contiguous copy of a strided view: out[idx] = a[offset + sum(idx_d * strides_d)].
   * Covers permute, expand (stride 0) and slice.
   */
  strided(
    a: unknown,
    outShape: readonly number[],
    strides: readonly number[],
    offset: number,
    dtype: DType,
  ): unknown;
  /** Concatenates parts along `axis`. */
  concat(
    parts: readonly { buf: unknown; shape: readonly number[] }[],
    axis: number,
    outShape: readonly number[],
    dtype: DType,
  ): unknown;
  /** torch.gather: out[..i..] = a[..index[..i..] at axis..]; index is int32 of `indexShape`. */
  gather(
    a: unknown,
    aShape: readonly number[],
    axis: number,
    index: unknown,
    indexShape: readonly number[],
    dtype: DType,
  ): unknown;
  /**
   * torch.scatter_add, out of place: out = copy(base); out[..index[..i..] at axis..] += src[..i..].
   * `index` and `src` have `indexShape`.
   */
  scatterAdd(
    base: unknown,
    shape: readonly number[],
    axis: number,
    index: unknown,
    src: unknown,
    indexShape: readonly number[],
    dtype: DType,
  ): unknown;
  /** Numerically stable softmax (or logSoftmax when `log`) along `axis`. */
  softmax(a: unknown, shape: readonly number[], axis: number, log: boolean, dtype: DType): unknown;
  /** Stable argsort (int32) along the last axis; descending keeps ties in index order. */
  argsort(a: unknown, shape: readonly number[], descending: boolean, dtype: DType): unknown;
  /** Inclusive prefix sum along `axis`; `reverse` sums from the end. */
  cumsum(
    a: unknown,
    shape: readonly number[],
    axis: number,
    reverse: boolean,
    dtype: DType,
  ): unknown;
  /** Converts dtype (float to int truncates toward zero). */
  cast(a: unknown, size: number, from: DType, to: DType): unknown;
  /**
   * Optional fused primitive: g · gelu'(x) (tanh GELU), elementwise. Used by gelu's backward
   * rule when the backward pass is not itself being differentiated.
   */
  geluGrad?(x: unknown, g: unknown, size: number, dtype: DType): unknown;
  /**
   * Optional fused primitive: softmax's backward along the last axis of `[rows, cols]`:
   * s ⊙ (g − Σ g ⊙ s) per row.
   */
  softmaxGrad?(s: unknown, g: unknown, rows: number, cols: number, dtype: DType): unknown;
  /**
   * Optional fused primitive: layer norm over the last axis of `[rows, cols]` with weight and
   * bias `[cols]`: y = (x − mean) · rstd · w + b. Also returns mean and rstd `[rows]`.
   */
  layerNorm?(
    x: unknown,
    w: unknown,
    b: unknown,
    rows: number,
    cols: number,
    eps: number,
    dtype: DType,
  ): { y: unknown; mean: unknown; rstd: unknown };
  /** Optional fused primitive: layer norm's backward (dx `[rows, cols]`, dw and db `[cols]`). */
  layerNormGrad?(
    g: unknown,
    x: unknown,
    w: unknown,
    mean: unknown,
    rstd: unknown,
    rows: number,
    cols: number,
    dtype: DType,
  ): { dx: unknown; dw: unknown; db: unknown };
  /**
   * Optional fused primitive: Σ over the buffers of Σ x² (their element counts in `sizes`),
   * a one-element buffer: the squared global norm that gradient clipping needs, in about one
   * dispatch per tensor instead of three.
   */
  sumOfSquares?(bufs: readonly unknown[], sizes: readonly number[], dtype: DType): unknown;
  /**
   * Optional fused primitive: attention without the score matrix in memory (flash style).
   * q `[B, H, T, d]`, k and v `[B, Hkv, Tk, d]`, mask `[maskBatch, T, Tk]` (additive; null when
   * there is none), all contiguous. Query head h reads key/value head ⌊h / (H / Hkv)⌋.
   * out = softmax(q kᵀ · scale + mask) v `[B, H, T, d]`; lse `[B, H, T]` is each row's
   * log Σ exp of the scores (kept for the backward).
   */
  attention?(
    q: unknown,
    k: unknown,
    v: unknown,
    mask: unknown | null,
    spec: AttentionSpec,
    dtype: DType,
  ): { out: unknown; lse: unknown };
  /**
   * Optional fused primitive: attention's backward from the forward's `out` and `lse` and the
   * output gradient `g`: dq `[B, H, T, d]`, dk and dv `[B, Hkv, Tk, d]` (summed over the query
   * heads that share a key/value head).
   */
  attentionGrad?(
    q: unknown,
    k: unknown,
    v: unknown,
    mask: unknown | null,
    out: unknown,
    lse: unknown,
    g: unknown,
    spec: AttentionSpec,
    dtype: DType,
  ): { dq: unknown; dk: unknown; dv: unknown };
  /**
   * Whether `scaledDotProductAttention` should use `attention` by default here: true where
   * the fused kernel beats composed matmuls and softmax (a GPU); the CPU backend's fused loops
   * are a scalar reference, slower than its SIMD matmuls, so it leaves this unset.
   */
  readonly prefersFusedAttention?: boolean;
  /** Bytes and buffers in use (for leak tests). */
  memory(): { buffers: number; bytes: number };
  /** Submits queued work (no-op on CPU). */
  flush(): void;
}

const backends = new Map<BackendName, Backend>();
const factories = new Map<BackendName, () => Promise<Backend>>();
// Undefined until a backend is chosen: by `setBackend`, by the first async entry point
// (`ensureBackend`, which applies the default rule), or by the first synchronous use.
let current: BackendName | undefined;
let defaultRule: (() => Promise<BackendName>) | undefined;

/**
 * Registers a backend instance (used by `src/cpu` and `src/gpu`).
 * @example
 * ```ts
 * import { cpuBackend, matmul, registerBackend, setBackend, tensor } from "@lossforge/core";
 * // A CPU backend that counts its matmuls, registered under the name it wraps.
 * const cpu = cpuBackend();
 * let matmuls = 0;
 * registerBackend({ ...cpu, matmul: (...args) => (matmuls++, cpu.matmul(...args)) });
 * await setBackend("cpu");
 * matmul(tensor([[1, 2]]), tensor([[3], [4]]));
 * console.log(matmuls); // 1
 * ```
 */
export function registerBackend(b: Backend): void {
  backends.set(b.name, b);
}

/**
 * Registers an async factory that creates a backend on first use.
 * @example
 * ```ts
 * import { cpuBackend, registerBackendFactory, setBackend, tensor } from "@lossforge/core";
 * // A stand-in for "webgpu" in tests on a machine without a GPU; made at the first setBackend.
 * registerBackendFactory("webgpu", () => Promise.resolve({ ...cpuBackend(), name: "webgpu" }));
 * await setBackend("webgpu");
 * console.log(tensor([1]).backend.name); // "webgpu"
 * ```
 */
export function registerBackendFactory(name: BackendName, make: () => Promise<Backend>): void {
  factories.set(name, make);
}

/**
 * Registers the rule that picks the default backend (`src/gpu` registers
 * `autoSelectBackend`: LOSSFORGE_BACKEND, else WebGPU when an adapter exists, else the CPU).
 * It runs once, at the first `ensureBackend`, never at import.
 * @example
 * ```ts
 * import { ensureBackend, registerDefaultBackendRule, setBackend } from "@lossforge/core";
 * // The CPU by default, whatever the machine has (a rule sets the backend it picks).
 * registerDefaultBackendRule(async () => {
 *   await setBackend("cpu");
 *   return "cpu";
 * });
 * console.log(await ensureBackend()); // "cpu"
 * ```
 */
export function registerDefaultBackendRule(rule: () => Promise<BackendName>): void {
  defaultRule = rule;
}

/**
 * Makes `name` the backend new tensors go to. WebGPU needs an adapter: without one this
 * throws a BackendError that says what to install.
 *
 * @example
 * ```ts
 * import { setBackend, zeros } from "@lossforge/core";
 * await setBackend("cpu");
 * console.log(zeros([2]).backend.name); // "cpu"
 * ```
 */
export async function setBackend(name: BackendName): Promise<void> {
  await initBackend(name);
  current = name;
}

/**
 * Chooses the default backend if none is chosen yet, and returns the current one's name.
 * Every async entry point of the library (`train`, `sweep`, `evaluate`, `loadPretrained`)
 * calls it first, so a script that starts with one of them gets the default rule:
 * `LOSSFORGE_BACKEND`, else WebGPU when an adapter exists, else the CPU with a one-line
 * notice. Nothing is probed at import time.
 *
 * @example
 * ```ts
 * import { ensureBackend, tensor } from "@lossforge/core";
 * const name = await ensureBackend(); // "webgpu" where an adapter exists, else "cpu"
 * console.log(tensor([1, 2]).backend.name === name); // true
 * ```
 */
export async function ensureBackend(): Promise<BackendName> {
  if (current === undefined) {
    if (defaultRule) await defaultRule();
    else await setBackend("cpu");
  }
  return currentBackendName();
}

/**
 * Creates (once) and returns the backend called `name`.
 * @example
 * ```ts
 * import { currentBackendName, initBackend, setBackend } from "@lossforge/core";
 * await setBackend("cpu");
 * const gpu = await initBackend("webgpu").catch(() => null); // a BackendError without an adapter
 * console.log(gpu?.name ?? "no GPU", currentBackendName()); // the current backend stays "cpu"
 * ```
 */
export async function initBackend(name: BackendName): Promise<Backend> {
  const have = backends.get(name);
  if (have) return have;
  const make = factories.get(name);
  if (!make) throw new BackendError(`unknown backend "${name}" (known: cpu, webgpu)`);
  const b = await make();
  backends.set(name, b);
  return b;
}

/**
 * `LOSSFORGE_BACKEND`, checked: undefined when unset or unreadable (without --allow-env it
 * is not read: asking would prompt on a terminal), a BackendError for an unknown name.
 * Internal: both the async default rule and a synchronous first use read it here.
 */
export function backendFromEnv(): BackendName | undefined {
  let asked: string | undefined;
  try {
    const perm = Deno.permissions.querySync({ name: "env", variable: "LOSSFORGE_BACKEND" });
    if (perm.state !== "granted") return undefined;
    asked = Deno.env.get("LOSSFORGE_BACKEND") || undefined;
  } catch {
    return undefined;
  }
  if (asked !== undefined && asked !== "cpu" && asked !== "webgpu") {
    throw new BackendError(
      `LOSSFORGE_BACKEND: unknown backend "${asked}" (expected cpu or webgpu)`,
    );
  }
  return asked;
}

/**
 * The choice made by a synchronous first use (a tensor created before any backend was
 * chosen): WebGPU's device only comes from an async call, so the CPU, unless the
 * environment asks for a WebGPU backend that is not created yet.
 */
function chooseSynchronously(): BackendName {
  const asked = backendFromEnv();
  if (asked === "webgpu" && !backends.has("webgpu")) {
    throw new BackendError(
      'LOSSFORGE_BACKEND=webgpu, but the WebGPU device is created asynchronously: call await setBackend("webgpu") or await ensureBackend() before creating tensors',
    );
  }
  const name = asked ?? "cpu";
  if (asked === undefined) {
    console.error(
      "lossforge: using the cpu backend (a tensor was made before any backend was chosen; await ensureBackend() picks WebGPU when an adapter exists)",
    );
  }
  current = name;
  return name;
}

/**
 * The name of the backend new tensors go to (choosing the default synchronously when none
 * is chosen yet: see {@linkcode ensureBackend}).
 *
 * @example
 * ```ts
 * import { currentBackendName, setBackend } from "@lossforge/core";
 * await setBackend("cpu");
 * console.log(currentBackendName()); // "cpu"
 * ```
 */
export function currentBackendName(): BackendName {
  return current ?? chooseSynchronously();
}

/**
 * Alias of {@linkcode currentBackendName}, kept for existing code: it returns the backend's
 * name, not the backend object (that is {@linkcode backendInstance}).
 *
 * @example
 * ```ts
 * import { getBackend } from "@lossforge/core";
 * console.log(getBackend()); // "cpu" or "webgpu"
 * ```
 */
export const getBackend: () => BackendName = currentBackendName;

/**
 * The backend object called `name` (default: the current one). It must have been
 * initialised (`await setBackend(name)` or `await initBackend(name)`).
 *
 * @example
 * ```ts
 * import { backendInstance } from "@lossforge/core";
 * console.log(backendInstance("cpu").name); // "cpu"
 * ```
 */
export function backendInstance(name: BackendName = currentBackendName()): Backend {
  const b = backends.get(name);
  if (!b) {
    throw new BackendError(
      `backend "${name}" is not initialised: call await setBackend("${name}") first`,
    );
  }
  return b;
}

/**
 * Alias of {@linkcode backendInstance}, kept for existing code.
 *
 * @example
 * ```ts
 * import { getBackendImpl } from "@lossforge/core";
 * console.log(getBackendImpl("cpu").name); // "cpu"
 * ```
 */
export const getBackendImpl: (name?: BackendName) => Backend = backendInstance;

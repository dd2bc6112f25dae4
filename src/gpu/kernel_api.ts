/**
 * The kernel API for fused ops written outside this folder (losses, optimizers): run a WGSL
 * kernel over tensors on the webgpu backend and get new tensors back.
 * @module
 */
import { backendInstance } from "../autograd/backend.ts";
import type { DType } from "../autograd/dtype.ts";
import { BackendError, DTypeError, fmtShape } from "../autograd/errors.ts";
import { checkShape, sizeOf } from "../autograd/shape.ts";
import { fromBuffer, type Tensor } from "../autograd/tensor.ts";
import type { GpuBuffer } from "./engine.ts";
import type { EngineBackend } from "./backend.ts";

/**
 * A fused kernel: WGSL with entry point `main`; bindings in `@group(0)`: each input as
 * `var<storage, read>` (0..), then each output as `var<storage, read_write>`, then (when
 * `params` is given) `var<uniform> params` last.
 *
 * @example
 * ```ts
 * import { type KernelSpec, runKernel, setBackend, type Tensor, tensor } from "@lossforge/core";
 * await setBackend("webgpu");
 * // y = a·x + b: a and b in the params block; the size is in the WGSL, so also in the key.
 * const axpb = (x: Tensor, a: number, b: number): KernelSpec => ({
 *   key: `example_axpb_${x.size}`,
 *   code: `@group(0) @binding(0) var<storage, read> x: array<f32>;
 *          @group(0) @binding(1) var<storage, read_write> y: array<f32>;
 *          @group(0) @binding(2) var<uniform> p: vec4<f32>;
 *          @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
 *            if (g.x < ${x.size}u) { y[g.x] = p.x * x[g.x] + p.y; }
 *          }`,
 *   inputs: [x],
 *   outputs: [{ shape: x.shape, dtype: "float32" }],
 *   params: new Float32Array([a, b, 0, 0]),
 *   workgroups: [Math.ceil(x.size / 64)],
 * });
 * const [y] = runKernel(axpb(tensor([1, 2, 3]), 2, 1));
 * console.log(await y.array()); // [3, 5, 7]
 * ```
 */
export interface KernelSpec {
  /** Cache key: one compiled pipeline per key (include any specialization in it). */
  key: string;
  /** The WGSL source. */
  code: string;
  /** Input tensors (on the webgpu backend; float32 or int32). */
  inputs: Tensor[];
  /** Shapes and dtypes of the outputs (fresh buffers, contents undefined until written). */
  outputs: { shape: readonly number[]; dtype: DType }[];
  /** The uniform params block (up to 64 KiB); its bytes are copied at the call. */
  params?: ArrayBuffer | Uint32Array | Float32Array | Int32Array;
  /** Workgroup grid [x, y, z]; no dispatch happens when any is 0. */
  workgroups: [number, number?, number?];
}

/**
 * Runs a WGSL kernel on the webgpu backend and returns its outputs as new tensors (without
 * gradients: wrap the call with `customGrad` to make it differentiable). The dispatch joins
 * the current batch, like every built-in op.
 *
 * @example
 * ```ts
 * import { runKernel, setBackend, tensor } from "@lossforge/core";
 * await setBackend("webgpu");
 * const x = tensor([1, 2, 3, 4]);
 * const [y] = runKernel({
 *   key: "example_double",
 *   code: `@group(0) @binding(0) var<storage, read> x: array<f32>;
 *          @group(0) @binding(1) var<storage, read_write> y: array<f32>;
 *          @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
 *            if (g.x < 4u) { y[g.x] = 2.0 * x[g.x]; }
 *          }`,
 *   inputs: [x],
 *   outputs: [{ shape: [4], dtype: "float32" }],
 *   workgroups: [1],
 * });
 * console.log(await y.array()); // [2, 4, 6, 8]
 * ```
 */
export function runKernel(spec: KernelSpec): Tensor[] {
  const op = `runKernel(${spec.key})`;
  const { e, k, inputs, outs, b } = prepare(op, spec, spec.params?.byteLength ?? 0);
  const [x, y = 1, z = 1] = spec.workgroups;
  try {
    e.dispatch(op, k, inputs, outs, spec.params ? paramWords(op, spec.params) : null, [x, y, z]);
  } catch (err) {
    for (const o of outs) e.release(o);
    throw err;
  }
  return outs.map((o, i) => fromBuffer(b, o, spec.outputs[i].shape, spec.outputs[i].dtype));
}

/**
 * A fused kernel over rows that may be run in chunks of rows, so buffers larger than the
 * device's maxStorageBufferBindingSize (logits `[N, C]` of a language model on a small
 * adapter) are bound a window of whole rows at a time. The bindings are as in
 * {@link KernelSpec}; `rowWidths` gives, for each input then each output, the elements per
 * row of a buffer windowed by rows (0: bound whole). For each chunk, `params(row0, rows)`
 * builds the uniform block (the kernel reads windowed buffers at local row `row - row0`
 * and whole ones at `row`) and `workgroups(rows)` the grid. When everything fits there is
 * one chunk, `params(0, rows)`.
 *
 * @example
 * ```ts
 * import {
 *   type RowKernelSpec,
 *   runRowKernel,
 *   setBackend,
 *   type Tensor,
 *   tensor,
 * } from "@lossforge/core";
 * await setBackend("webgpu");
 * // Row sums of x [rows, c]: x and y are both windowed by rows, so a thread reads local row g.x.
 * const rowSums = (x: Tensor): RowKernelSpec => {
 *   const [rows, c] = x.shape;
 *   return {
 *     key: `example_row_sums_${c}`,
 *     code: `@group(0) @binding(0) var<storage, read> x: array<f32>;
 *            @group(0) @binding(1) var<storage, read_write> y: array<f32>;
 *            @group(0) @binding(2) var<uniform> p: vec4<u32>; // row0, rows
 *            @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
 *              if (g.x >= p.y) { return; }
 *              var s = 0.0;
 *              for (var j = 0u; j < ${c}u; j++) { s += x[g.x * ${c}u + j]; }
 *              y[g.x] = s;
 *            }`,
 *     inputs: [x],
 *     outputs: [{ shape: [rows], dtype: "float32" }],
 *     rows,
 *     rowWidths: [c, 1],
 *     params: (row0, n) => new Uint32Array([row0, n, 0, 0]),
 *     workgroups: (n) => [Math.ceil(n / 64)],
 *   };
 * };
 * const [y] = runRowKernel(rowSums(tensor([[1, 2, 3], [4, 5, 6]])));
 * console.log(await y.array()); // [6, 15]
 * ```
 */
export interface RowKernelSpec extends Omit<KernelSpec, "params" | "workgroups"> {
  /** Rows in all. */
  rows: number;
  /** Per input then output: elements per row of a buffer windowed by rows, 0 to bind it whole. */
  rowWidths: readonly number[];
  /** The uniform block for the chunk of `rows` rows starting at `row0`. */
  params: (row0: number, rows: number) => ArrayBuffer | Uint32Array | Float32Array | Int32Array;
  /** The grid for a chunk of `rows` rows; no dispatch happens when any is 0. */
  workgroups: (rows: number) => [number, number?, number?];
}

/**
 * Runs a row kernel (see {@link RowKernelSpec}) on the webgpu backend, in as few chunks of
 * rows as the binding limit allows, all recorded in the current batch; returns its outputs.
 *
 * @example
 * ```ts
 * import { runRowKernel, setBackend, tensor } from "@lossforge/core";
 * await setBackend("webgpu");
 * const x = tensor([[1, 2, 3], [4, 5, 6]]);
 * const [y] = runRowKernel({
 *   key: "example_row_double",
 *   code: `struct P { row0: u32, rows: u32, c: u32, pad: u32 }
 *          @group(0) @binding(0) var<storage, read> x: array<f32>;
 *          @group(0) @binding(1) var<storage, read_write> y: array<f32>;
 *          @group(0) @binding(2) var<uniform> p: P;
 *          @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
 *            if (g.x < p.rows * p.c) { y[g.x] = 2.0 * x[g.x]; }
 *          }`,
 *   inputs: [x],
 *   outputs: [{ shape: [2, 3], dtype: "float32" }],
 *   rows: 2,
 *   rowWidths: [3, 3],
 *   params: (row0, rows) => new Uint32Array([row0, rows, 3, 0]),
 *   workgroups: (rows) => [Math.ceil((rows * 3) / 64)],
 * });
 * console.log(await y.array()); // [[2, 4, 6], [8, 10, 12]]
 * ```
 */
export function runRowKernel(spec: RowKernelSpec): Tensor[] {
  const op = `runRowKernel(${spec.key})`;
  const nb = spec.inputs.length + spec.outputs.length;
  if (spec.rowWidths.length !== nb) {
    throw new BackendError(
      `${op}: rowWidths has ${spec.rowWidths.length} entries for ${nb} bindings`,
    );
  }
  const first = paramWords(op, spec.params(0, spec.rows));
  const { e, k, inputs, outs, b } = prepare(op, spec, first.byteLength);
  try {
    e.dispatchRows(
      op,
      k,
      inputs,
      outs,
      spec.rowWidths.map((w) => w * 4),
      spec.rows,
      (row0, rows) =>
        row0 === 0 && rows === spec.rows ? first : paramWords(op, spec.params(row0, rows)),
      (rows) => {
        const [x, y = 1, z = 1] = spec.workgroups(rows);
        return [x, y, z];
      },
    );
  } catch (err) {
    for (const o of outs) e.release(o);
    throw err;
  }
  return outs.map((o, i) => fromBuffer(b, o, spec.outputs[i].shape, spec.outputs[i].dtype));
}

/** Checks the inputs, allocates the outputs and compiles (or finds) the kernel. */
function prepare(
  op: string,
  spec: Pick<KernelSpec, "key" | "code" | "inputs" | "outputs">,
  paramBytes: number,
) {
  const b = backendInstance("webgpu") as EngineBackend;
  const e = b.engine;
  const inputs = spec.inputs.map((t, i) => {
    if (t.backend !== b) {
      throw new BackendError(`${op}: input ${i} is on ${t.backend.name}, not webgpu`);
    }
    return t.buf as GpuBuffer;
  });
  const outs: GpuBuffer[] = [];
  for (const o of spec.outputs) {
    checkShape(op, o.shape);
    if (o.dtype === "float64") {
      throw new DTypeError(`${op}: output ${fmtShape(o.shape)} is float64, which webgpu lacks`);
    }
    outs.push(e.alloc(op, sizeOf(o.shape) * 4));
  }
  const bytes = paramBytes > 0 ? Math.max(16, Math.ceil(paramBytes / 16) * 16) : 0;
  const k = e.kernel(`user:${spec.key}`, () => spec.code, inputs.length, outs.length, bytes);
  return { b, e, k, inputs, outs };
}

/** The params as 32-bit words, padded to 16 bytes; at most 64 KiB. */
function paramWords(
  op: string,
  p: ArrayBuffer | Uint32Array | Float32Array | Int32Array,
): Uint32Array {
  const bytes = p instanceof ArrayBuffer
    ? new Uint8Array(p)
    : new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
  const padded = new Uint8Array(Math.max(16, Math.ceil(bytes.byteLength / 16) * 16));
  padded.set(bytes);
  if (padded.byteLength > 65536) {
    throw new BackendError(`${op}: params of ${bytes.byteLength} bytes exceed 64 KiB`);
  }
  return new Uint32Array(padded.buffer);
}

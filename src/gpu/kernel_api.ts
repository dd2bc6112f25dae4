/**
 * The kernel API for fused ops written outside this folder (losses, optimizers): run a WGSL
 * kernel over tensors on the webgpu backend and get new tensors back.
 * @module
 */
import { getBackendImpl } from "../autograd/backend.ts";
import type { DType } from "../autograd/dtype.ts";
import { BackendError, DTypeError, fmtShape } from "../autograd/errors.ts";
import { checkShape, sizeOf } from "../autograd/shape.ts";
import { fromBuffer, type Tensor } from "../autograd/tensor.ts";
import type { WebGpuBackend } from "./backend.ts";
import type { GpuBuffer } from "./engine.ts";

/**
 * A fused kernel: WGSL with entry point `main`; bindings in `@group(0)`: each input as
 * `var<storage, read>` (0..), then each output as `var<storage, read_write>`, then (when
 * `params` is given) `var<uniform> params` last.
 *
 * @example
 * ```ts
 * import type { KernelSpec } from "@lossforge/core";
 * const spec: Omit<KernelSpec, "inputs"> = {
 *   key: "double",
 *   code: "...",
 *   outputs: [{ shape: [4], dtype: "float32" }],
 *   workgroups: [1],
 * };
 * console.log(spec.key);
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
 * console.log(await y.data()); // [2, 4, 6, 8]
 * ```
 */
export function runKernel(spec: KernelSpec): Tensor[] {
  const op = `runKernel(${spec.key})`;
  const b = getBackendImpl("webgpu") as WebGpuBackend;
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
  let words: Uint32Array | null = null;
  if (spec.params) {
    const p = spec.params;
    const bytes = p instanceof ArrayBuffer
      ? new Uint8Array(p)
      : new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
    const padded = new Uint8Array(Math.max(16, Math.ceil(bytes.byteLength / 16) * 16));
    padded.set(bytes);
    if (padded.byteLength > 65536) {
      throw new BackendError(`${op}: params of ${bytes.byteLength} bytes exceed 64 KiB`);
    }
    words = new Uint32Array(padded.buffer);
  }
  const k = e.kernel(
    `user:${spec.key}`,
    () => spec.code,
    inputs.length,
    outs.length,
    words ? words.byteLength : 0,
  );
  const [x, y = 1, z = 1] = spec.workgroups;
  try {
    e.dispatch(op, k, inputs, outs, words, [x, y, z]);
  } catch (err) {
    for (const o of outs) e.release(o);
    throw err;
  }
  return outs.map((o, i) => fromBuffer(b, o, spec.outputs[i].shape, spec.outputs[i].dtype));
}

/**
 * The WebGPU backend. Importing this module registers a factory for it, so
 * `await setBackend("webgpu")` creates it on first use; `autoSelectBackend()` picks webgpu
 * when an adapter exists. `runKernel` runs fused WGSL kernels written elsewhere.
 * @module
 */
import { registerBackendFactory, registerDefaultBackendRule } from "../autograd/backend.ts";
import { createEngineBackend, type WebGpuBackend } from "./backend.ts";
import { autoSelectBackend } from "./select.ts";

export {
  acquireGpu,
  checkGpu,
  findAdapter,
  type GpuContext,
  type GpuInfo,
  INSTALL_HINT,
} from "./device.ts";
export type { WebGpuBackend } from "./backend.ts";

/**
 * Creates a WebGPU backend object on the system's adapter (throws a BackendError saying what
 * to install when there is none), without making it the backend new tensors go to: that is
 * `setBackend("webgpu")`, which is what most code wants.
 *
 * @example
 * ```ts
 * import { webgpuBackend } from "@lossforge/core";
 * const gpu = await webgpuBackend();
 * const x = gpu.fromArray(new Float32Array([0, 1]));
 * console.log(await gpu.read(gpu.unary("exp", x, 2, "float32"), "float32", 2)); // ≈ [1, 2.7183]
 * console.log(gpu.context.info.description);
 * ```
 */
export const webgpuBackend: () => Promise<WebGpuBackend> = createEngineBackend;
export type { EngineStats } from "./engine.ts";
export { type KernelSpec, type RowKernelSpec, runKernel, runRowKernel } from "./kernel_api.ts";
export {
  clearMatmulTuning,
  loadMatmulTuning,
  type MatmulShape,
  type MatmulTile,
  matmulTuning,
  type MatmulTuningEntry,
  type MatmulTuningLoad,
  type MatmulTuningMeasure,
  saveMatmulTuning,
  tuneMatmul,
  type TuneMatmulOptions,
} from "./matmul/mod.ts";
export { autoSelectBackend, fastestBackend, gpuInfo, isSoftwareAdapter } from "./select.ts";

registerBackendFactory("webgpu", createEngineBackend);
registerDefaultBackendRule(autoSelectBackend);

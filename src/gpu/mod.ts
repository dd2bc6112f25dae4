/**
 * The WebGPU backend. Importing this module registers a factory for it, so
 * `await setBackend("webgpu")` creates it on first use; `autoSelectBackend()` picks webgpu
 * when an adapter exists. `runKernel` runs fused WGSL kernels written elsewhere.
 * @module
 */
import { registerBackendFactory, registerDefaultBackendRule } from "../autograd/backend.ts";
import { webgpuBackend } from "./backend.ts";
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

registerBackendFactory("webgpu", webgpuBackend);
registerDefaultBackendRule(autoSelectBackend);

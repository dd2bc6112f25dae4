/**
 * Adapter and device acquisition. The device asks for the adapter's real limits (the
 * defaults are far lower: a 128 MiB storage binding instead of 2 GiB on a big GPU) and for
 * the optional features the adapter has. Device loss and uncaptured validation errors are
 * remembered here and turned into a BackendError naming the op by the engine.
 * @module
 */
/// <reference types="@webgpu/types" />
import { BackendError } from "../autograd/errors.ts";
import { keepGlBackendOut } from "./wgpu_backends.ts";

/**
 * What to tell a user who has no adapter.
 *
 * @example
 * ```ts
 * import { findAdapter, INSTALL_HINT } from "@lossforge/core";
 * if (!(await findAdapter())) console.error(`no WebGPU adapter: ${INSTALL_HINT}`);
 * ```
 */
export const INSTALL_HINT: string =
  "install a Vulkan driver (on Debian/Ubuntu: apt-get install mesa-vulkan-drivers, which " +
  "gives the lavapipe software adapter) or use the cpu backend";

/**
 * What the WebGPU backend runs on: the adapter's description, the limits the device was
 * created with and its optional features.
 *
 * @example
 * ```ts
 * import { gpuInfo } from "@lossforge/core";
 * const info = await gpuInfo();
 * if (info) console.log(info.description, info.limits.maxStorageBufferBindingSize);
 * ```
 */
export interface GpuInfo {
  /** The adapter's description, e.g. "NVIDIA H200" or "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** Vendor string or id, as the adapter reports it. */
  vendor: string;
  /** Architecture, as the adapter reports it (often empty). */
  architecture: string;
  /** Whether the adapter is a CPU fallback (software rasteriser). */
  isFallbackAdapter: boolean;
  /** The device's limits (numbers only). */
  limits: Record<string, number>;
  /** The device's optional features, e.g. "shader-f16", "timestamp-query". */
  features: string[];
}

/**
 * The device, its info, and the error state the engine checks before and after work.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "@lossforge/core";
 * const ctx = await acquireGpu();
 * console.log(ctx.lost === null, ctx.info.features);
 * ```
 */
export interface GpuContext {
  /** The adapter the device came from. */
  adapter: GPUAdapter;
  /** The device. */
  device: GPUDevice;
  /** Description, limits, features. */
  info: GpuInfo;
  /** Set when the device is lost; every later op fails with it. */
  lost: string | null;
  /** The first uncaptured error since the last check (cleared when reported). */
  pendingError: string | null;
  /** The last op dispatched, so that asynchronous errors can name it. */
  lastOp: string;
}

/** Optional features worth having; requested when the adapter offers them. */
const WANTED_FEATURES: GPUFeatureName[] = ["shader-f16", "timestamp-query"];

/** Limits requested at their adapter maximum (the device defaults are much lower). */
const WANTED_LIMITS = [
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "minStorageBufferOffsetAlignment",
  "maxUniformBufferBindingSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBuffersPerShaderStage",
  "maxUniformBuffersPerShaderStage",
  "maxDynamicUniformBuffersPerPipelineLayout",
  "maxDynamicStorageBuffersPerPipelineLayout",
  "maxBindingsPerBindGroup",
  "maxBindGroups",
] as const;

let adapterPromise: Promise<GPUAdapter | null> | null = null;

/**
 * The WebGPU adapter, or null when there is none (no `navigator.gpu`, or no driver).
 * Asked once per process. On Linux with a Vulkan driver and `DENO_WEBGPU_BACKEND` unset, it
 * first sets that variable to `vulkan`, so that Deno does not also start OpenGL, whose EGL
 * library can abort the process as it exits (docs/exit-abort.md); set the variable yourself
 * (for example to `gl`) to choose otherwise.
 *
 * @example
 * ```ts
 * import { findAdapter, setBackend } from "@lossforge/core";
 * await setBackend((await findAdapter()) ? "webgpu" : "cpu");
 * ```
 */
export function findAdapter(): Promise<GPUAdapter | null> {
  adapterPromise ??= (async () => {
    const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
    if (!gpu) return null;
    // Before Deno starts wgpu on this thread: OpenGL's EGL aborts some exits (wgpu_backends.ts).
    keepGlBackendOut();
    try {
      return await gpu.requestAdapter({ powerPreference: "high-performance" });
    } catch {
      return null;
    }
  })();
  return adapterPromise;
}

function limitsOf(l: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  // GPUSupportedLimits keeps its fields on the prototype: a for-in walks them.
  for (const k in l) {
    const v = (l as unknown as Record<string, unknown>)[k];
    if (typeof v === "number") out[k] = v;
  }
  return out;
}

/**
 * Acquires the adapter and a device with the adapter's full limits and wanted features.
 * Throws a BackendError saying what to install when there is no adapter.
 *
 * @example
 * ```ts
 * import { acquireGpu } from "@lossforge/core";
 * const ctx = await acquireGpu(); // a BackendError naming INSTALL_HINT without an adapter
 * console.log(ctx.info.description, ctx.info.limits.maxStorageBufferBindingSize);
 * ```
 */
export async function acquireGpu(): Promise<GpuContext> {
  const adapter = await findAdapter();
  if (!adapter) throw new BackendError(`webgpu: no WebGPU adapter found: ${INSTALL_HINT}`);
  const adapterLimits = limitsOf(adapter.limits);
  const requiredLimits: Record<string, number> = {};
  for (const k of WANTED_LIMITS) if (k in adapterLimits) requiredLimits[k] = adapterLimits[k];
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  } catch (e) {
    throw new BackendError(`webgpu: requestDevice failed: ${(e as Error).message}`);
  }
  const ai = adapter.info;
  const info: GpuInfo = {
    description: ai?.description || ai?.device || "unknown adapter",
    vendor: ai?.vendor ?? "",
    architecture: ai?.architecture ?? "",
    isFallbackAdapter: Boolean((ai as { isFallbackAdapter?: boolean })?.isFallbackAdapter),
    limits: limitsOf(device.limits),
    features: [...device.features].map(String).sort(),
  };
  const ctx: GpuContext = { adapter, device, info, lost: null, pendingError: null, lastOp: "" };
  device.lost.then((l) => {
    ctx.lost = `device lost (${l.reason}): ${l.message}`;
  });
  device.addEventListener("uncapturederror", (ev) => {
    const e = (ev as GPUUncapturedErrorEvent).error;
    ctx.pendingError ??= `${e.constructor.name}: ${e.message} (last op dispatched: ${
      ctx.lastOp || "none"
    })`;
  });
  return ctx;
}

/**
 * Throws a BackendError naming `op` when the device was lost or an uncaptured error was
 * reported since the last check (that error is then cleared: the device may still work).
 *
 * @example
 * ```ts
 * import { acquireGpu, checkGpu } from "@lossforge/core";
 * const ctx = await acquireGpu();
 * checkGpu(ctx, "example"); // throws only after a device error
 * ```
 */
export function checkGpu(ctx: GpuContext, op: string): void {
  if (ctx.lost) throw new BackendError(`${op}: webgpu ${ctx.lost}`);
  if (ctx.pendingError) {
    const msg = ctx.pendingError;
    ctx.pendingError = null;
    throw new BackendError(`${op}: webgpu error: ${msg}`);
  }
}

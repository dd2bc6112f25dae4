/**
 * Choosing the default backend, and what the GPU is.
 * @module
 */
import { backendFromEnv, type BackendName, initBackend, setBackend } from "../autograd/backend.ts";
import type { WebGpuBackend } from "./backend.ts";
import { findAdapter, type GpuInfo, INSTALL_HINT } from "./device.ts";

/**
 * Picks and sets the default backend: `LOSSFORGE_BACKEND=cpu|webgpu` when set (webgpu
 * without an adapter is a BackendError), else webgpu when an adapter exists, else cpu with a
 * one-line notice on stderr. Returns the name chosen.
 *
 * @example
 * ```ts
 * import { autoSelectBackend } from "@lossforge/core";
 * const name = await autoSelectBackend();
 * console.log(name); // "webgpu" or "cpu"
 * ```
 */
export async function autoSelectBackend(): Promise<BackendName> {
  const asked = backendFromEnv();
  if (asked !== undefined) {
    await setBackend(asked);
    return asked;
  }
  if (await findAdapter()) {
    await setBackend("webgpu");
    return "webgpu";
  }
  console.error(`lossforge: no WebGPU adapter found, using the cpu backend (${INSTALL_HINT})`);
  await setBackend("cpu");
  return "cpu";
}

/**
 * What the webgpu backend runs on (initialising it when needed), or null without an adapter.
 *
 * @example
 * ```ts
 * import { gpuInfo } from "@lossforge/core";
 * const info = await gpuInfo();
 * console.log(info?.description ?? "no GPU");
 * ```
 */
export async function gpuInfo(): Promise<GpuInfo | null> {
  if (!(await findAdapter())) return null;
  const b = (await initBackend("webgpu")) as WebGpuBackend;
  return b.context.info;
}

function adapterName(a: GPUAdapter): string {
  const info = a.info as GPUAdapterInfo | undefined;
  return info?.description || info?.device || info?.vendor || "unknown";
}

/**
 * Whether an adapter is a software rasteriser running on the CPU (it reports itself as a
 * fallback adapter, or names Mesa's llvmpipe/lavapipe or SwiftShader).
 *
 * @example
 * ```ts
 * import { findAdapter, isSoftwareAdapter } from "@lossforge/core";
 * const a = await findAdapter();
 * console.log(a ? isSoftwareAdapter(a) : "no adapter");
 * ```
 */
export function isSoftwareAdapter(adapter: GPUAdapter): boolean {
  const info = adapter.info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined;
  if (info?.isFallbackAdapter) return true;
  return /llvmpipe|lavapipe|swiftshader/i.test(adapterName(adapter));
}

/**
 * The backend that trains small models fastest on this machine, without switching to it:
 * LOSSFORGE_BACKEND when set; WebGPU on a hardware adapter; otherwise the CPU, also when the
 * only adapter is CPU-emulated (llvmpipe, lavapipe, SwiftShader), where the CPU backend was
 * measured about 3x faster (BENCHMARKS.md). The examples and `deno task train` use it.
 *
 * @example
 * ```ts
 * import { fastestBackend, setBackend } from "@lossforge/core";
 * await setBackend(await fastestBackend());
 * ```
 */
export async function fastestBackend(): Promise<BackendName> {
  const asked = backendFromEnv();
  if (asked !== undefined) return asked;
  const adapter = await findAdapter();
  return adapter && !isSoftwareAdapter(adapter) ? "webgpu" : "cpu";
}

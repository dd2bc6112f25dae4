/**
 * Choosing the default backend, and what the GPU is.
 * @module
 */
import { type BackendName, initBackend, setBackend } from "../autograd/backend.ts";
import { BackendError } from "../autograd/errors.ts";
import type { WebGpuBackend } from "./backend.ts";
import { findAdapter, type GpuInfo, INSTALL_HINT } from "./device.ts";

function envBackend(): string | undefined {
  try {
    // Ask first: reading without --allow-env would prompt on a terminal.
    const perm = Deno.permissions.querySync({ name: "env", variable: "LOSSFORGE_BACKEND" });
    if (perm.state !== "granted") return undefined;
    return Deno.env.get("LOSSFORGE_BACKEND") || undefined;
  } catch {
    // Reading the environment needs --allow-env; without it, fall through to detection.
    return undefined;
  }
}

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
  const asked = envBackend();
  if (asked !== undefined) {
    if (asked !== "cpu" && asked !== "webgpu") {
      throw new BackendError(
        `LOSSFORGE_BACKEND: unknown backend "${asked}" (expected cpu or webgpu)`,
      );
    }
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

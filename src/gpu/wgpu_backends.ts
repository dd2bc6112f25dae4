/**
 * Which graphics APIs Deno's WebGPU (wgpu) starts. Unless told otherwise
 * (`DENO_WEBGPU_BACKEND`), Deno starts all of them, OpenGL included, even where the adapter it
 * picks is a Vulkan one. On Linux that loads libglvnd's libEGL, which keeps per-thread state
 * under a pthread key with a destructor, on whichever thread asked for the adapter. When that
 * thread is not the main one (every `deno test` module and every Worker runs on its own) and
 * it exits while the process is exiting, its key destructor and libEGL's own finaliser both
 * free that state: glibc aborts with "double free or corruption" or "corrupted size vs.
 * prev_size" (exit code 134), or the process segfaults (139), after all the work is done.
 * docs/exit-abort.md has the reproduction and the core dumps' stacks.
 *
 * So on Linux, where a Vulkan driver is installed and the user has not chosen, only Vulkan is
 * started: it is the backend wgpu picks there anyway, and EGL is then never loaded.
 * @module
 */

/** The folders the Vulkan loader reads driver manifests from on Linux, besides XDG ones. */
const ICD_DIRS = ["/etc/vulkan/icd.d", "/usr/share/vulkan/icd.d", "/usr/local/share/vulkan/icd.d"];

function granted(desc: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(desc).state === "granted";
  } catch {
    return false;
  }
}

/** Whether a folder holds a driver manifest (`*.json`); false when it cannot be read. */
function hasManifest(dir: string): boolean {
  if (!granted({ name: "read", path: dir })) return false;
  try {
    for (const e of Deno.readDirSync(dir)) if (e.name.endsWith(".json")) return true;
  } catch {
    // Absent or unreadable: no driver from here.
  }
  return false;
}

/**
 * Whether a Vulkan driver is installed: a manifest named by `VK_DRIVER_FILES` /
 * `VK_ICD_FILENAMES`, or one in the loader's folders.
 *
 * @example
 * ```ts
 * import { vulkanDriverInstalled } from "./wgpu_backends.ts";
 * console.log(vulkanDriverInstalled()); // true with mesa-vulkan-drivers or a GPU driver
 * ```
 */
export function vulkanDriverInstalled(): boolean {
  for (const v of ["VK_DRIVER_FILES", "VK_ICD_FILENAMES"]) {
    if (granted({ name: "env", variable: v }) && Deno.env.get(v)) return true;
  }
  const dirs = [...ICD_DIRS];
  if (granted({ name: "env", variable: "XDG_DATA_DIRS" })) {
    for (const d of (Deno.env.get("XDG_DATA_DIRS") ?? "").split(":")) {
      if (d) dirs.push(`${d}/vulkan/icd.d`);
    }
  }
  return dirs.some(hasManifest);
}

/**
 * Before the first adapter request: on Linux with a Vulkan driver, sets
 * `DENO_WEBGPU_BACKEND=vulkan` unless it is already set (the user's choice wins) or the
 * environment may not be written. Returns the value it set, or undefined when it left the
 * environment alone. Deno reads the variable when a thread first asks for an adapter, so
 * calling this later changes nothing for that thread.
 *
 * @example
 * ```ts
 * import { keepGlBackendOut } from "./wgpu_backends.ts";
 * keepGlBackendOut(); // "vulkan" on Linux with a Vulkan driver, else undefined
 * const adapter = await navigator.gpu?.requestAdapter();
 * console.log(adapter?.info.description);
 * ```
 */
export function keepGlBackendOut(): string | undefined {
  if (Deno.build.os !== "linux") return undefined;
  const name = "DENO_WEBGPU_BACKEND";
  if (!granted({ name: "env", variable: name }) || Deno.env.get(name) !== undefined) {
    return undefined;
  }
  if (!vulkanDriverInstalled()) return undefined; // OpenGL may be the only adapter here
  Deno.env.set(name, "vulkan");
  return "vulkan";
}

// The CI machine must have a WebGPU adapter (Mesa lavapipe at least): this test fails,
// never skips, without one. It also covers backend selection and device info.
import * as lf from "../../mod.ts";
import { gpuTest } from "./_util.ts";

Deno.test({
  name: "a WebGPU adapter exists (install mesa-vulkan-drivers when this fails)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const adapter = await lf.findAdapter();
    if (!adapter) {
      throw new Error(
        "no WebGPU adapter: install a Vulkan driver (Debian: apt-get install mesa-vulkan-drivers)",
      );
    }
  },
});

gpuTest("gpuInfo reports the adapter, the requested limits and features", async () => {
  const info = await lf.gpuInfo();
  if (!info) throw new Error("gpuInfo returned null with an adapter present");
  if (!info.description) throw new Error("no adapter description");
  const adapter = (await lf.findAdapter())!;
  // The device asks for the adapter's real limits, not the (much lower) defaults.
  for (
    const k of [
      "maxStorageBufferBindingSize",
      "maxBufferSize",
      "maxComputeWorkgroupStorageSize",
    ] as const
  ) {
    if (info.limits[k] !== adapter.limits[k]) {
      throw new Error(`${k}: device has ${info.limits[k]}, adapter offers ${adapter.limits[k]}`);
    }
  }
  for (const f of ["shader-f16", "timestamp-query"]) {
    if (adapter.features.has(f as GPUFeatureName) && !info.features.includes(f)) {
      throw new Error(`feature ${f} not requested`);
    }
  }
});

gpuTest(
  "autoSelectBackend honours LOSSFORGE_BACKEND, else picks webgpu when an adapter exists; fastestBackend advises",
  async () => {
    const old = Deno.env.get("LOSSFORGE_BACKEND");
    try {
      Deno.env.set("LOSSFORGE_BACKEND", "cpu");
      if ((await lf.autoSelectBackend()) !== "cpu" || lf.currentBackendName() !== "cpu") {
        throw new Error("env cpu ignored");
      }
      Deno.env.set("LOSSFORGE_BACKEND", "webgpu");
      if ((await lf.autoSelectBackend()) !== "webgpu") throw new Error("env webgpu ignored");
      Deno.env.set("LOSSFORGE_BACKEND", "tpu");
      let threw = false;
      try {
        await lf.autoSelectBackend();
      } catch (e) {
        threw = e instanceof lf.BackendError && e.message.includes("tpu");
      }
      if (!threw) throw new Error("unknown LOSSFORGE_BACKEND accepted");
      Deno.env.delete("LOSSFORGE_BACKEND");
      if ((await lf.autoSelectBackend()) !== "webgpu") {
        throw new Error("adapter present but cpu chosen");
      }
      // fastestBackend only advises: the CPU on a CPU-emulated adapter, WebGPU on a real one.
      const adapter = await lf.findAdapter();
      const expected = adapter && !lf.isSoftwareAdapter(adapter) ? "webgpu" : "cpu";
      if ((await lf.fastestBackend()) !== expected) {
        throw new Error(`fastestBackend: expected ${expected} for ${adapter?.info.description}`);
      }
      if (lf.currentBackendName() !== "webgpu") {
        throw new Error("fastestBackend switched the backend");
      }
      Deno.env.set("LOSSFORGE_BACKEND", "cpu");
      if ((await lf.fastestBackend()) !== "cpu") throw new Error("fastestBackend ignored env");
    } finally {
      if (old === undefined) Deno.env.delete("LOSSFORGE_BACKEND");
      else Deno.env.set("LOSSFORGE_BACKEND", old);
      await lf.setBackend("cpu");
    }
  },
);

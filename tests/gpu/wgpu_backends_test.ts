// On Linux with a Vulkan driver the library starts Deno's WebGPU on Vulkan alone, so libglvnd's
// libEGL (whose per-thread state aborts some exits, docs/exit-abort.md) is never loaded; a
// DENO_WEBGPU_BACKEND the user set is left as it is.
import { assert, assertEquals } from "../_assert.ts";
import { vulkanDriverInstalled } from "../../src/gpu/wgpu_backends.ts";

const mod = new URL("../../mod.ts", import.meta.url).href;

/** Acquires the GPU in a fresh process; prints the variable and the GL/EGL libraries mapped. */
async function probe(backendEnv: string | undefined) {
  const src = `
    const lf = await import(${JSON.stringify(mod)});
    const a = await lf.findAdapter();
    const maps = Deno.readTextFileSync("/proc/self/maps");
    const gl = new Set(maps.split("\\n").map((l) => l.split(/\\s+/)[5] ?? "")
      .filter((p) => /lib(EGL|GLdispatch|GLX)/.test(p)).map((p) => p.split("/").pop()));
    console.log(JSON.stringify({ env: Deno.env.get("DENO_WEBGPU_BACKEND") ?? null,
      adapter: a !== null, gl: [...gl] }));
  `;
  const env = Deno.env.toObject();
  delete env.DENO_WEBGPU_BACKEND;
  if (backendEnv !== undefined) env.DENO_WEBGPU_BACKEND = backendEnv;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["eval", src],
    env: { ...env, NO_COLOR: "1" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assertEquals(r.code, 0, dec.decode(r.stderr));
  return JSON.parse(dec.decode(r.stdout).trim()) as {
    env: string | null;
    adapter: boolean;
    gl: string[];
  };
}

Deno.test({
  name: "findAdapter starts WebGPU on Vulkan alone on Linux: no libEGL in the process",
  ignore: Deno.build.os !== "linux" || !vulkanDriverInstalled(),
  async fn() {
    const r = await probe(undefined);
    assertEquals(r.env, "vulkan");
    assert(r.adapter, "no adapter on Vulkan although a driver is installed");
    assertEquals(r.gl, []);
  },
});

Deno.test({
  name: "findAdapter leaves a DENO_WEBGPU_BACKEND the user set as it is",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const r = await probe("gl");
    assertEquals(r.env, "gl");
  },
});

// Importing the package defines things and does nothing else: no adapter probe. The default
// backend is chosen by the first async entry point (`ensureBackend`) or, for a script that
// makes a tensor first, synchronously (the CPU, with a notice saying how to get WebGPU).
import { assert, assertEquals } from "../_assert.ts";

const mod = new URL("../../mod.ts", import.meta.url).href;

/** Runs `code` in a fresh process after wrapping navigator.gpu.requestAdapter in a counter. */
async function script(code: string, env: Record<string, string> = {}) {
  const src = `
    let probes = 0;
    const gpu = navigator.gpu;
    if (gpu) {
      const real = gpu.requestAdapter.bind(gpu);
      gpu.requestAdapter = (o) => (probes++, real(o));
    }
    const lf = await import(${JSON.stringify(mod)});
    ${code}
  `;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["eval", src],
    env: { NO_COLOR: "1", ...env },
    clearEnv: false,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout).trim(), err: dec.decode(r.stderr) };
}

Deno.test("importing the package probes no adapter and chooses no backend", async () => {
  const r = await script(`console.log(probes);`, { LOSSFORGE_BACKEND: "" });
  assertEquals(r.code, 0, r.err);
  assertEquals(r.out, "0");
});

Deno.test("a tensor made before any choice goes to the cpu, with a one-line notice", async () => {
  const r = await script(`console.log(lf.tensor([1, 2]).backend.name, probes);`, {
    LOSSFORGE_BACKEND: "",
  });
  assertEquals(r.code, 0, r.err);
  assertEquals(r.out, "cpu 0");
  assert(r.err.includes("lossforge: using the cpu backend"), r.err);
  assertEquals(r.err.trim().split("\n").length, 1, r.err);
});

Deno.test("LOSSFORGE_BACKEND=cpu: ensureBackend and first use pick the cpu silently", async () => {
  const r = await script(
    `console.log(await lf.ensureBackend(), lf.currentBackendName(), lf.tensor([1]).backend.name);`,
    { LOSSFORGE_BACKEND: "cpu" },
  );
  assertEquals(r.code, 0, r.err);
  assertEquals(r.out, "cpu cpu cpu");
  assertEquals(r.err.trim(), "");
});

Deno.test("LOSSFORGE_BACKEND=webgpu without an async choice: a clear error at first use", async () => {
  const r = await script(
    `try { lf.tensor([1]); } catch (e) { console.log(e.name + ": " + e.message); }`,
    { LOSSFORGE_BACKEND: "webgpu" },
  );
  assertEquals(r.code, 0, r.err);
  assert(r.out.startsWith("BackendError: LOSSFORGE_BACKEND=webgpu"), r.out);
  assert(r.out.includes('await setBackend("webgpu")'), r.out);
});

Deno.test("the old names stay aliases of the new ones", async () => {
  const lf = await import(mod);
  assertEquals(lf.getBackend, lf.currentBackendName);
  assertEquals(lf.getBackendImpl, lf.backendInstance);
});

Deno.test("an unknown LOSSFORGE_BACKEND is an error on first use too, not a silent cpu", async () => {
  const r = await script(
    `try { lf.tensor([1]); } catch (e) { console.log(e.name + ": " + e.message); }`,
    { LOSSFORGE_BACKEND: "tpu" },
  );
  assertEquals(r.code, 0, r.err);
  assertEquals(
    r.out,
    'BackendError: LOSSFORGE_BACKEND: unknown backend "tpu" (expected cpu or webgpu)',
  );
});

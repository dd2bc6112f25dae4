// The engine's contract: errors name the op, float64 is refused, buffers are pooled and
// reused, uploads into recycled buffers never overtake queued reads, runKernel works.
import * as lf from "../../mod.ts";
import { assertAllClose, gpuTest } from "./_util.ts";
import { assertEquals } from "../_assert.ts";
import type { EngineBackend } from "../../src/gpu/backend.ts";

const gpu = () => lf.backendInstance("webgpu") as EngineBackend;

async function rejects(f: () => unknown, cls: new (...a: never[]) => Error, text: string) {
  try {
    await f();
  } catch (e) {
    if (!(e instanceof cls) || !(e as Error).message.includes(text)) {
      throw new Error(`expected ${cls.name} with "${text}", got ${e}`);
    }
    return;
  }
  throw new Error(`expected ${cls.name} with "${text}", nothing was thrown`);
}

gpuTest("float64 on webgpu is a DTypeError naming the op", async () => {
  await rejects(
    () => lf.zeros([2], { dtype: "float64", backend: "webgpu" }),
    lf.DTypeError,
    "cpu backend only",
  );
  await rejects(
    () => lf.tensor(new Float64Array(2), { backend: "webgpu" }),
    lf.DTypeError,
    "float64",
  );
  const x = lf.tensor([1, 2], { backend: "webgpu" });
  await rejects(() => lf.cast(x, "float64"), lf.BackendError, "cpu backend only");
  x.dispose();
});

gpuTest("runKernel runs user WGSL with params and returns webgpu tensors", async () => {
  const x = lf.tensor([1, 2, 3, 4, 5], { backend: "webgpu" });
  const [y, n] = lf.runKernel({
    key: "test_axpb",
    code: `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> n: array<i32>;
struct P { a: f32, b: f32, len: u32 }
@group(0) @binding(3) var<uniform> params: P;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < params.len) { y[g.x] = params.a * x[g.x] + params.b; }
  if (g.x == 0u) { n[0] = i32(params.len); }
}`,
    inputs: [x],
    outputs: [{ shape: [5], dtype: "float32" }, { shape: [], dtype: "int32" }],
    params: new Uint32Array([...new Uint32Array(new Float32Array([2, 0.5]).buffer), 5]),
    workgroups: [1],
  });
  assertAllClose(await y.data(), [2.5, 4.5, 6.5, 8.5, 10.5], { rtol: 0, atol: 0 }, "runKernel");
  if ((await n.item()) !== 5 || n.dtype !== "int32" || n.backend.name !== "webgpu") {
    throw new Error("output 2");
  }
  for (const t of [x, y, n]) t.dispose();
});

gpuTest(
  "a kernel that fails to compile surfaces as a BackendError naming it, then clears",
  async () => {
    const x = lf.tensor([1], { backend: "webgpu" });
    const [y] = lf.runKernel({
      key: "test_broken",
      code: "this is not wgsl",
      inputs: [x],
      outputs: [{ shape: [1], dtype: "float32" }],
      workgroups: [1],
    });
    await rejects(() => y.data(), lf.BackendError, "test_broken");
    // The device still works afterwards.
    const z = x.add(1);
    assertAllClose(await z.data(), [2], { rtol: 0, atol: 0 }, "after error");
    for (const t of [x, y, z]) t.dispose();
  },
);

gpuTest("buffers are pooled by size class and reused; free twice is an error", async () => {
  const b = gpu();
  const before = b.memory();
  const x = lf.tensor([1, 2, 3], { backend: "webgpu" });
  const y = x.exp();
  const mid = b.memory();
  if (mid.buffers !== before.buffers + 2) {
    throw new Error(`2 new buffers expected: ${JSON.stringify([before, mid])}`);
  }
  y.dispose();
  x.dispose();
  const after = b.memory();
  if (after.buffers !== before.buffers || after.bytes !== before.bytes) {
    throw new Error("not returned");
  }
  const created = b.stats().pooledBuffers;
  const z = lf.tensor([4, 5, 6], { backend: "webgpu" }).exp();
  if (b.stats().pooledBuffers >= created) throw new Error("pool not reused");
  const buf = b.fromArray(new Float32Array(1));
  b.free(buf);
  await rejects(() => b.free(buf), lf.BackendError, "already freed");
  z.dispose();
});

gpuTest(
  "an upload into a recycled buffer never overwrites data queued work still reads",
  async () => {
    // x is read by queued (unsubmitted) ops, then freed; the next upload of the same size must
    // not take its buffer (writeBuffer runs before the queued reads).
    const b = gpu();
    b.flush();
    for (let round = 0; round < 20; round++) {
      const x = lf.tensor([1, 2, 3, 4], { backend: "webgpu" });
      const y = x.mul(10);
      x.dispose();
      const u = lf.tensor([7, 7, 7, 7], { backend: "webgpu" });
      const z = y.add(u);
      assertAllClose(await z.data(), [17, 27, 37, 47], { rtol: 0, atol: 0 }, `round ${round}`);
      for (const t of [y, u, z]) t.dispose();
    }
  },
);

gpuTest("large 1D dispatches split into a 2D grid (more than 65535 workgroups)", async () => {
  const n = 65536 * 256 + 300;
  const x = lf.full([n], 1.5, { backend: "webgpu" });
  const s = x.sum();
  assertAllClose([await s.item()], [1.5 * n], { rtol: 1e-5, atol: 0 }, "sum of 16.8M");
  const y = x.add(1);
  const tail = lf.slice(y, [n - 3]);
  assertAllClose(await tail.data(), [2.5, 2.5, 2.5], { rtol: 0, atol: 0 }, "tail");
  for (const t of [x, s, y, tail]) t.dispose();
});

gpuTest(
  "bind groups are cached per layout and buffers, with numeric and string keys alike",
  async () => {
    const e = gpu().engine;
    const x = lf.rand([64], { backend: "webgpu" }), y = lf.rand([64], { backend: "webgpu" });
    const m = lf.rand([64], { backend: "webgpu" }).gt(0.5);
    const want = await lf.where(m.cast("float32"), x, y).data();
    // Each round's output comes from the pool once the previous round was submitted, so after a
    // warm-up every round binds the same buffers.
    const round = async () => {
      lf.add(x, y).dispose(); // three buffers: the numeric key
      lf.where(m, x, y).dispose(); // four buffers: the string key
      await gpu().done();
    };
    for (let i = 0; i < 3; i++) await round();
    const c0 = e.getStats().bindGroupsCreated;
    for (let i = 0; i < 4; i++) await round();
    assertEquals(
      e.getStats().bindGroupsCreated,
      c0,
      "identical dispatches reuse their bind groups",
    );
    assertAllClose(await lf.where(m, x, y).data(), want, { rtol: 0, atol: 0 }, "where");
    for (const t of [x, y, m]) t.dispose();
  },
);

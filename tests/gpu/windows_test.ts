// Buffers larger than the device's maxStorageBufferBindingSize: row kernels run in chunks
// of rows and flat elementwise kernels in windows. The binding limit is lowered so small
// tensors take those paths (without them, binding would throw); results must equal the
// unchunked ones.
import {
  add,
  BackendError,
  cast,
  exp,
  full,
  matmulT,
  mul,
  randn,
  rng,
  runRowKernel,
  ShapeError,
  slice,
  type Tensor,
  tensor,
} from "../../mod.ts";
import { chunkRows } from "../../src/gpu/engine.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { gpuTest, withBindingLimit } from "./_util.ts";

Deno.test("chunkRows: whole when it fits, aligned chunks otherwise, an error when nothing fits", () => {
  assertEquals(chunkRows("op", 4096, [128000, 4], 2 ** 31 - 1, 256), 4096);
  // 128 MiB / 128,000 bytes = 1,048 rows; 128,000 is a multiple of 256 and 4 bytes needs 64.
  assertEquals(chunkRows("op", 4096, [128000, 0], 134217728, 256), 1048);
  assertEquals(chunkRows("op", 4096, [128000, 4], 134217728, 256), 1024);
  assertEquals(chunkRows("op", 100, [1200], 16384, 32), 12);
  assertEquals(chunkRows("op", 0, [1200], 16, 32), 0);
  assertThrows(() => chunkRows("lossX", 100, [1200], 1000, 32), BackendError, "lossX");
  assertThrows(() => chunkRows("lossY", 100, [1200], 16384, 256), BackendError, "lossY");
});

gpuTest("runRowKernel: a row kernel over windows of rows equals one dispatch", async () => {
  const rows = 37, c = 64;
  const x = randn([rows, c], { rng: rng(3), backend: "webgpu" });
  const code = /* wgsl */ `
struct P { r0: u32, rn: u32, c: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> rowsum: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(1) fn main(@builtin(workgroup_id) wg: vec3<u32>) {
  if (wg.x >= p.rn) { return; }
  var s = 0.0;
  for (var k = 0u; k < p.c; k++) {
    let v = x[wg.x * p.c + k];
    y[wg.x * p.c + k] = 2.0 * v;
    s += v;
  }
  rowsum[p.r0 + wg.x] = s;
}`;
  const run = () =>
    runRowKernel({
      key: "test_row_windows",
      code,
      inputs: [x],
      outputs: [{ shape: [rows, c], dtype: "float32" }, { shape: [rows], dtype: "float32" }],
      rows,
      rowWidths: [c, c, 0],
      params: (r0, rn) => new Uint32Array([r0, rn, c, 0]),
      workgroups: (rn) => [rn],
    });
  const [y1, s1] = run();
  const [y2, s2] = await withBindingLimit(1024, () => run()); // 4 rows per chunk
  const [a, b, sa, sb] = await Promise.all([y1.data(), y2.data(), s1.data(), s2.data()]);
  assertEquals(Array.from(b), Array.from(a));
  assertEquals(Array.from(sb), Array.from(sa));
  await withBindingLimit(200, () => {
    // A row of 256 bytes cannot fit a 200-byte binding: the error names the kernel.
    assertThrows(() => run(), BackendError, "test_row_windows");
  });
  for (const t of [x, y1, y2, s1, s2]) t.dispose();
});

gpuTest(
  "flat elementwise ops bind windows of large buffers (offsets, scalars, casts)",
  async () => {
    const n = 5000;
    const a = randn([n], { rng: rng(1), backend: "webgpu" });
    const b = randn([n + 3], { rng: rng(2), backend: "webgpu" });
    const s = tensor(0.5, { backend: "webgpu" });
    const ops: [string, () => Tensor][] = [
      ["add", () => add(a, slice(b, [3], [n + 3]))], // a view at an unaligned offset
      ["mul by a scalar", () => mul(a, s)],
      ["exp", () => exp(a)],
      ["cast", () => cast(mul(a, 100), "int32")],
      ["fill", () => full([n], 2.5, { backend: "webgpu" })],
    ];
    const whole = ops.map(([, f]) => f());
    const windowed = await withBindingLimit(4096, () => ops.map(([, f]) => f()));
    for (let i = 0; i < ops.length; i++) {
      const [x, y] = await Promise.all([whole[i].data(), windowed[i].data()]);
      assertEquals(Array.from(y), Array.from(x), ops[i][0]);
    }
    const sum = await windowed[0].data();
    const [av, bv] = await Promise.all([a.data(), b.data()]);
    assertClose(sum[n - 1], av[n - 1] + bv[n + 2], { rtol: 1e-6 });
    assert(whole.length === ops.length);
    for (const t of [a, b, s, ...whole, ...windowed]) t.dispose();
  },
);

gpuTest(
  "matmul past the binding limit: windows of rows, or of the contracted axis summed",
  async () => {
    const r = rng(11);
    // [m, k, n, transA, transB]: plain and transposed-B products in row windows (also ragged:
    // 70 rows of 24 floats need even row counts for 256-byte offsets), a transposed A split
    // along k (the weight gradient of a language-model head), and a direct-kernel product.
    const cases: [number, number, number, boolean, boolean][] = [
      [70, 24, 40, false, false],
      [70, 24, 40, false, true],
      [33, 70, 24, true, false],
      [200, 8, 3, false, false],
    ];
    for (const [m, k, n, ta, tb] of cases) {
      const av = await randn(ta ? [k, m] : [m, k], { rng: r, backend: "cpu" }).data();
      const bv = await randn(tb ? [n, k] : [k, n], { rng: r, backend: "cpu" }).data();
      const on = (backend: "cpu" | "webgpu") => [
        tensor(av, { shape: ta ? [k, m] : [m, k], backend }),
        tensor(bv, { shape: tb ? [n, k] : [k, n], backend }),
      ];
      const [ac, bc] = on("cpu"), [a, b] = on("webgpu");
      const want = await matmulT(ac, bc, ta, tb).data();
      const got = await withBindingLimit(4096, () => matmulT(a, b, ta, tb).data());
      assertClose(got, want, { rtol: 1e-4, atol: 1e-4, msg: `${m}x${k}x${n} ${ta}${tb}` });
    }
    // What windows cannot cover is named: both operands transposed and A over the limit.
    const a = randn([70, 33], { backend: "webgpu" }), b = randn([12, 70], { backend: "webgpu" });
    await withBindingLimit(4096, () =>
      assertThrows(
        () => matmulT(a, b, true, true),
        ShapeError,
        "maxStorageBufferBindingSize",
      ));
  },
);

// Errors are typed and name the op and the offending values.
import * as lf from "../../mod.ts";
import { tensor, zeros } from "../../mod.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../_assert.ts";

const i32 = (v: number[], shape?: number[]) => tensor(v, { dtype: "int32", shape });

Deno.test("error classes share a base and carry their names", () => {
  for (const C of [lf.ShapeError, lf.DTypeError, lf.BackendError, lf.ValueError]) {
    const e = new C("x");
    assert(e instanceof lf.LossforgeError && e instanceof Error);
    assertEquals(e.name, C.name);
  }
});

Deno.test("matmul: inner dimensions", () => {
  const e = assertThrows(() => zeros([2, 3]).matmul(zeros([4, 5])), lf.ShapeError);
  assertEquals(e.message, "matmul: inner dimensions differ: a is [2,3], b is [4,5]");
  assertThrows(
    () => zeros([3]).matmul(zeros([4])),
    lf.ShapeError,
    "matmul: inner dimensions differ: a is [1,3], b is [4,1]",
  );
});

Deno.test("broadcasting failures name the op and both shapes", () => {
  assertThrows(
    () => zeros([2, 3]).add(zeros([4])),
    lf.ShapeError,
    "add: shapes cannot broadcast: [2,3] and [4]",
  );
  assertThrows(
    () => zeros([2, 3]).mul(zeros([3, 2])),
    lf.ShapeError,
    "mul: shapes cannot broadcast: [2,3] and [3,2]",
  );
  assertThrows(
    () => zeros([5]).maximum(zeros([2])),
    lf.ShapeError,
    "maximum: shapes cannot broadcast: [5] and [2]",
  );
  assertThrows(
    () => zeros([2]).lt(zeros([3])),
    lf.ShapeError,
    "lt: shapes cannot broadcast: [2] and [3]",
  );
  assertThrows(
    () => lf.where(zeros([3]), zeros([2]), 0),
    lf.ShapeError,
    "where: shapes cannot broadcast: [3] and [2]",
  );
  assertThrows(
    () => zeros([2, 3]).expand([2, 4]),
    lf.ShapeError,
    "expand: cannot expand [2,3] to [2,4]",
  );
});

Deno.test("bad axes name the op, the axis and the rank", () => {
  const x = zeros([2, 3]);
  assertThrows(() => x.sum(2), lf.ValueError, "sum: axis 2 out of range for rank 2");
  assertThrows(() => x.sum(-3), lf.ValueError, "sum: axis -3 out of range for rank 2");
  assertThrows(() => x.sum(0.5), lf.ValueError, "sum: axis 0.5 out of range for rank 2");
  assertThrows(() => x.softmax(2), lf.ValueError, "softmax: axis 2 out of range for rank 2");
  assertThrows(() => x.cumsum(3), lf.ValueError, "cumsum: axis 3 out of range for rank 2");
  assertThrows(
    () => x.gather(-3, i32([0, 0], [1, 2])),
    lf.ValueError,
    "gather: axis -3 out of range",
  );
  assertThrows(
    () => x.permute([1, 1]),
    lf.ValueError,
    "permute: dims [1,1] are not a permutation of 2 axes",
  );
  assertThrows(() => x.squeeze(1), lf.ShapeError, "squeeze: axis 1 of [2,3] has size 3, not 1");
  assertThrows(() => x.mean([1, -1]), lf.ValueError, "mean: repeated axis in [1,-1]");
});

Deno.test("reshape sizes", () => {
  const x = zeros([2, 3]);
  assertThrows(
    () => x.reshape([5]),
    lf.ShapeError,
    "reshape: cannot reshape [2,3] (6 elements) to [5]",
  );
  assertThrows(
    () => x.reshape([4, -1]),
    lf.ShapeError,
    "reshape: cannot reshape [2,3] (6 elements) to [4,-1]",
  );
  assertThrows(() => x.reshape([-1, -1]), lf.ShapeError, "reshape: more than one -1 in [-1,-1]");
  assertThrows(() => x.reshape([0, -1]), lf.ShapeError, "reshape: cannot reshape [2,3]");
});

Deno.test("int dtype where a float one is needed", () => {
  const n = i32([1, 2]);
  assertThrows(() => n.exp(), lf.DTypeError, "exp: needs a float tensor, got int32");
  assertThrows(() => n.log(), lf.DTypeError, "log: needs a float tensor, got int32");
  assertThrows(() => n.tanh(), lf.DTypeError, "tanh: needs a float tensor, got int32");
  assertThrows(() => n.sigmoid(), lf.DTypeError, "sigmoid: needs a float tensor, got int32");
  assertThrows(() => n.softmax(), lf.DTypeError, "softmax: needs a float tensor, got int32");
  assertThrows(
    () => lf.grad((x: lf.Tensor) => x.sum())(n),
    lf.DTypeError,
    "only float tensors have gradients",
  );
  // Ops that make sense on integers work.
  assertEquals(n.neg().dtype, "int32");
  assertEquals(n.abs().dtype, "int32");
  assertEquals(n.square().dtype, "int32");
});

Deno.test("indices must be int32", () => {
  const x = zeros([2, 3]);
  assertThrows(
    () => x.gather(1, tensor([[0]])),
    lf.DTypeError,
    "gather: index must be int32, got float32",
  );
  assertThrows(
    () => x.gather(1, tensor([[0]], { dtype: "float64" })),
    lf.DTypeError,
    "gather: index must be int32, got float64",
  );
  assertThrows(
    () => x.scatterAdd(1, tensor([[0]]), zeros([1, 1])),
    lf.DTypeError,
    "scatterAdd: index must be int32, got float32",
  );
  assertThrows(() => x.take(tensor([0])), lf.DTypeError, "take: index must be int32, got float32");
  assertThrows(
    () => lf.oneHot(tensor([0]), 3),
    lf.DTypeError,
    "oneHot: index must be int32, got float32",
  );
  assertThrows(
    () => x.gather(1, i32([0], [1])),
    lf.ShapeError,
    "gather: index rank 1 [1] differs from input rank 2 [2,3]",
  );
  assertThrows(
    () => x.scatterAdd(0, i32([0, 0], [1, 2]), zeros([1, 2], { dtype: "float64" })),
    lf.DTypeError,
    "scatterAdd: src is float64, input is float32",
  );
  assertThrows(
    () => lf.concat([zeros([1]), i32([1])]),
    lf.ShapeError,
    "concat: dtypes differ: float32, int32",
  );
});

Deno.test("using a disposed tensor", async () => {
  const x = tensor([1, 2]);
  const id = x.id;
  x.dispose();
  assertThrows(() => x.add(1), lf.BackendError, `tensor #${id} [2] was disposed`);
  assertThrows(() => x.exp(), lf.BackendError, "was disposed");
  assertThrows(() => tensor([1, 2]).mul(x), lf.BackendError, "was disposed");
  await assertRejects(() => x.data(), lf.BackendError, "was disposed");
  assertThrows(() => lf.grad((y: lf.Tensor) => y.sum())(x), lf.BackendError, "was disposed");
});

Deno.test("item, grad outputs and vjp cotangents", async () => {
  await assertRejects(
    () => tensor([1, 2]).item(),
    lf.BackendError,
    "item: tensor has 2 elements, shape [2]",
  );
  assertThrows(
    () => lf.grad((x: lf.Tensor) => x)(tensor([1, 2])),
    lf.ShapeError,
    "valueAndGrad: f must return a scalar, got shape [2]",
  );
  const { backward } = lf.vjp((x: lf.Tensor) => x.mul(2), tensor([1, 2, 3]));
  assertThrows(
    () => backward(tensor([1])),
    lf.ShapeError,
    "vjp: cotangent [1] does not match output [3]",
  );
  assertThrows(
    () => lf.treeMap((a) => a, { a: zeros([1]) }, {}),
    TypeError,
    "treeMap: trees differ: 1 vs 0 tensors",
  );
});

Deno.test("backends: unknown names and mixing backends in one op", async () => {
  await assertRejects(
    () => lf.setBackend("tpu" as lf.BackendName),
    lf.BackendError,
    'unknown backend "tpu"',
  );
  // A stand-in second backend (the CPU code under another name) shows the mixing checks.
  lf.registerBackend({ ...lf.cpuBackend(), name: "webgpu" });
  const a = tensor([1, 2], { backend: "cpu" });
  const b = tensor([1, 2], { backend: "webgpu" });
  assertEquals(b.backend.name, "webgpu");
  assertThrows(
    () => a.add(b),
    lf.BackendError,
    "add: tensors are on different backends (cpu, webgpu)",
  );
  assertThrows(
    () => a.matmul(b.reshape([2, 1])),
    lf.BackendError,
    "matmul: tensors are on different backends",
  );
  assertThrows(
    () => lf.concat([a, b]),
    lf.BackendError,
    "concat: tensors are on different backends",
  );
  const gpuIndex = tensor([0], { dtype: "int32", backend: "webgpu" });
  assertThrows(
    () => a.gather(0, gpuIndex),
    lf.BackendError,
    "gather: tensors are on different backends (cpu, webgpu)",
  );
  assertThrows(
    () => lf.where(gpuIndex, a, a),
    lf.BackendError,
    "where: tensors are on different backends",
  );
  assertThrows(
    () => b.cast("float64"),
    lf.BackendError,
    "cast: float64 exists on the cpu backend only",
  );
  assertThrows(
    () => zeros([1], { dtype: "float64", backend: "webgpu" }),
    lf.DTypeError,
    "full: float64 exists on the cpu backend only",
  );
  assertEquals(lf.currentBackendName(), "cpu");
});

// Out-of-range indices are bad input: the CPU backend names the op, the position and the value.
import { gather, scatterAdd, take, tensor, ValueError, zeros } from "../../mod.ts";
import { assertThrows } from "../_assert.ts";

Deno.test("gather, take and scatterAdd reject out-of-range indices on the CPU", () => {
  const x = tensor([[1, 2], [3, 4]], { backend: "cpu" });
  const bad = tensor([[0], [2]], { dtype: "int32", backend: "cpu" });
  assertThrows(() => gather(x, 1, bad), ValueError, "gather: index 2 at flat position 1");
  const ids = tensor([1, -1], { dtype: "int32", backend: "cpu" });
  assertThrows(() => take(x, ids), ValueError, "index -1");
  const src = tensor([[5], [6]], { backend: "cpu" });
  assertThrows(
    () => scatterAdd(zeros([2, 2], { backend: "cpu" }), 1, bad, src),
    ValueError,
    "scatterAdd: index 2",
  );
});

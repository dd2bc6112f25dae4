import { tensor, validateTargets, ValueError } from "../../mod.ts";
import { assert, assertRejects } from "../_assert.ts";

Deno.test("validateTargets: accepts class ids and the ignore value, names bad ones", async () => {
  await validateTargets(tensor([[0, 2], [-100, 1]], { dtype: "int32" }), 3);
  const e = await assertRejects(
    () => validateTargets(tensor([[0, 2], [3, 1]], { dtype: "int32" }), 3, { loss: "myLoss" }),
    ValueError,
    "target 3",
  );
  assert(e.message.startsWith("myLoss") && e.message.includes("position [1,0]"), e.message);
  await validateTargets(tensor([-1, 0], { dtype: "int32" }), 1, { ignoreIndex: -1 });
  await assertRejects(() => validateTargets(tensor([0.5]), 2), Error, "int32");
});

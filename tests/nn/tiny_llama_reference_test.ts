// Reproduces transformers' outputs for the tiny random Llama in the shared fixture folder:
// token ids, logits, greedy continuations, the loss and per-parameter gradient norms. Runs
// on the CPU, and on WebGPU too when a WebGPU backend can be initialised here.
import {
  type BackendName,
  flattenParams,
  generate,
  initBackend,
  loadPretrained,
  type ParamTree,
  type Pretrained,
  scope,
  type Tensor,
  tensor,
  treeDispose,
  valueAndGrad,
} from "../../mod.ts";
import { assertClose } from "../_assert.ts";
import { assertEquals, haveTinyLlama, TINY_LLAMA_DIR } from "./_assert.ts";

interface Reference {
  prompts: string[];
  ids: number[][];
  logits_first8: number[][][];
  logits_last: number[][];
  greedy16: number[][];
  loss: number;
  grad_norms: Record<string, number>;
}

const present = await haveTinyLlama();
const reference: Reference | undefined = present
  ? JSON.parse(await Deno.readTextFile(new URL("reference.json", TINY_LLAMA_DIR)))
  : undefined;

/** Whether `name` can be initialised here; a reason to skip otherwise. */
async function available(name: BackendName): Promise<string | null> {
  if (name === "cpu") return null;
  try {
    await initBackend(name);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Mean next-token cross-entropy, written out with ops (independent of src/losses). */
function nextTokenLoss(logits: Tensor, ids: number[]): Tensor {
  const t = ids.length, v = logits.shape[2];
  const inputs = logits.reshape([t, v]).slice([0], [t - 1]);
  const targets = tensor(ids.slice(1), {
    dtype: "int32",
    backend: logits.backend.name,
    shape: [t - 1, 1],
  });
  return inputs.logSoftmax(-1).gather(1, targets).mean().neg();
}

for (const backend of ["cpu", "webgpu"] as const) {
  const skip = await available(backend);
  if (skip && backend === "webgpu") console.log(`skipping tiny-llama on webgpu: ${skip}`);
  Deno.test({
    name: `tiny-llama-hf reference on ${backend}`,
    ignore: !present || skip !== null,
    // WebGPU backends keep device handles open; only the CPU run checks for leaks.
    sanitizeResources: backend === "cpu",
    sanitizeOps: backend === "cpu",
    fn: async (t) => {
      const ref = reference as Reference;
      const loaded: Pretrained = await loadPretrained(TINY_LLAMA_DIR, { backend });
      const { model, params, tokenizer } = loaded;
      const ids = (i: number) => tensor([ref.ids[i]], { dtype: "int32", backend });

      await t.step("token ids", () => {
        for (let i = 0; i < ref.prompts.length; i++) {
          assertEquals(tokenizer.encode(ref.prompts[i]), ref.ids[i], `prompt ${i}`);
        }
      });

      await t.step("logits within 1e-4", async () => {
        for (let i = 0; i < ref.ids.length; i++) {
          const logits = scope(() => model.apply(params, ids(i)));
          const data = await logits.data();
          logits.dispose();
          const v = ref.logits_last[i].length, n = ref.ids[i].length;
          const first8 = Array.from(
            { length: n },
            (_, p) => Array.from(data.subarray(p * v, p * v + 8)),
          );
          assertClose(first8.flat(), ref.logits_first8[i].flat(), {
            atol: 1e-4,
            rtol: 0,
            msg: `first8 ${i}`,
          });
          assertClose(data.subarray((n - 1) * v), ref.logits_last[i], {
            atol: 1e-4,
            rtol: 0,
            msg: `last ${i}`,
          });
        }
      });

      await t.step("greedy continuations, one by one and batched with left padding", async () => {
        for (let i = 0; i < ref.ids.length; i++) {
          const [one] = await generate(model, params, [ref.ids[i]], { maxNewTokens: 16 });
          assertEquals(one, ref.greedy16[i], `prompt ${i}`);
        }
        assertEquals(await generate(model, params, ref.ids, { maxNewTokens: 16 }), ref.greedy16);
      });

      await t.step("loss within 1e-5 and gradient norms within 1e-4 relative", async () => {
        const lossOf = (p: ParamTree) => nextTokenLoss(model.apply(p, ids(0)), ref.ids[0]);
        const [loss, grads] = valueAndGrad(lossOf)(params);
        assertClose(await loss.item(), ref.loss, { atol: 1e-5, rtol: 0, msg: "loss" });
        const flat = flattenParams(grads);
        assertEquals(Object.keys(flat).sort(), Object.keys(ref.grad_norms).sort());
        for (const [name, expected] of Object.entries(ref.grad_norms)) {
          const g = await flat[name].data();
          const norm = Math.hypot(...g);
          assertClose(norm, expected, { rtol: 1e-4, atol: 0, msg: name });
        }
        loss.dispose();
        treeDispose(grads);
      });
      treeDispose(params);
    },
  });
}

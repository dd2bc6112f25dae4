// Reproduces transformers' outputs for the tiny GPT-NeoX, StableLM, Falcon and Llama
// checkpoints of the shared paper-archs folder (bf16 weights; GPT-2's real tokenizer, and
// the SentencePiece one of the Llama-2 kind for llama2): token ids, logits,
// the top 20 of the last position and 16 greedy tokens, one by one and batched with left
// padding. Runs on the CPU, and on WebGPU too when a WebGPU backend can be initialised here.
import {
  type BackendName,
  generate,
  initBackend,
  loadPretrained,
  scope,
  tensor,
  treeDispose,
} from "../../mod.ts";
import { assertClose } from "../_assert.ts";
import { assertEquals } from "./_assert.ts";

interface ModelReference {
  ids: number[][];
  logits_first8: number[][][];
  logits_last: number[][];
  top20_last: number[][];
  greedy16: number[][];
}

interface Reference {
  prompts: string[];
  models: Record<string, ModelReference>;
}

const DIR = new URL("../../../shared/models/paper-archs/", import.meta.url);

/** The families covered here; each folder holds one architecture. */
const FAMILIES = [
  ["gptneox", "GPTNeoXForCausalLM"],
  ["stablelm", "StableLmForCausalLM"],
  ["falcon", "FalconForCausalLM"],
  ["llama2", "LlamaForCausalLM"],
] as const;

async function present(): Promise<boolean> {
  try {
    await Deno.stat(new URL("reference.json", DIR));
    return true;
  } catch {
    if (Deno.env.get("CI")) throw new Error(`${DIR.pathname} is missing and CI is set`);
    console.log(`skipping paper-archs tests: ${DIR.pathname} not found`);
    return false;
  }
}

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

const have = await present();
const reference: Reference | undefined = have
  ? JSON.parse(await Deno.readTextFile(new URL("reference.json", DIR)))
  : undefined;

for (const backend of ["cpu", "webgpu"] as const) {
  const skip = await available(backend);
  if (skip && backend === "webgpu") console.log(`skipping paper-archs on webgpu: ${skip}`);
  for (const [folder, architecture] of FAMILIES) {
    Deno.test({
      name: `paper-archs ${folder} (${architecture}) reference on ${backend}`,
      ignore: !have || skip !== null,
      // WebGPU backends keep device handles open; only the CPU run checks for leaks.
      sanitizeResources: backend === "cpu",
      sanitizeOps: backend === "cpu",
      fn: async (t) => {
        const ref = (reference as Reference).models[folder];
        const prompts = (reference as Reference).prompts;
        const { model, params, tokenizer, config } = await loadPretrained(
          new URL(`${folder}/`, DIR),
          { backend },
        );
        assertEquals(config.architecture, architecture);

        await t.step("token ids", () => {
          for (let i = 0; i < prompts.length; i++) {
            assertEquals(tokenizer.encode(prompts[i]), ref.ids[i], `prompt ${i}`);
          }
        });

        await t.step("logits within 1e-4, top 20 of the last position", async () => {
          for (let i = 0; i < ref.ids.length; i++) {
            const ids = tensor([ref.ids[i]], { dtype: "int32", backend });
            const logits = scope(() => model.apply(params, ids));
            const data = await logits.data();
            const v = model.vocab, n = ref.ids[i].length;
            const last = data.slice((n - 1) * v, n * v);
            const top = Array.from(last.keys()).sort((a, b) => last[b] - last[a]).slice(0, 20);
            logits.dispose();
            ids.dispose();
            const first8 = Array.from(
              { length: n },
              (_, p) => Array.from(data.subarray(p * v, p * v + 8)),
            );
            const close = { atol: 1e-4, rtol: 0 };
            assertClose(first8.flat(), ref.logits_first8[i].flat(), { ...close, msg: `${i}` });
            assertClose(last.subarray(0, ref.logits_last[i].length), ref.logits_last[i], {
              ...close,
              msg: `last ${i}`,
            });
            assertEquals(top, ref.top20_last[i], `top 20 of prompt ${i}`);
          }
        });

        await t.step("greedy tokens, one by one and batched with left padding", async () => {
          for (let i = 0; i < ref.ids.length; i++) {
            const [one] = await generate(model, params, [ref.ids[i]], { maxNewTokens: 16 });
            assertEquals(one, ref.greedy16[i], `prompt ${i}`);
          }
          const all = await generate(model, params, ref.ids, { maxNewTokens: 16 });
          assertEquals(all, ref.greedy16);
        });
        treeDispose(params);
      },
    });
  }
}

for (const [folder, architecture] of FAMILIES) {
  Deno.test({
    name: `paper-archs ${folder} (${architecture}): a bf16 base kept in bf16 gives the same logits`,
    ignore: !have,
    fn: async () => {
      const ids = (reference as Reference).models[folder].ids[0];
      const logitsOf = async (dtype: "float32" | "keep") => {
        const p = await loadPretrained(new URL(`${folder}/`, DIR), { backend: "cpu", dtype });
        const x = tensor([ids], { dtype: "int32", backend: "cpu" });
        const out = Array.from(await p.model.apply(p.params, x).data());
        treeDispose(p.params);
        return out;
      };
      // Widening bf16 to float32 is exact and the CPU matmul widens while packing, so the two
      // agree bit for bit.
      assertEquals(await logitsOf("keep"), await logitsOf("float32"));
    },
  });
}

// GPT-NeoX, StableLM and Falcon in the configurations the shared paper-archs folder lacks
// (tests/fixtures/nn/archs, made by make_arch_fixtures.py with transformers): full logits,
// greedy tokens one by one and batched with left padding, a KV-cached step equal to full
// recomputation, on the CPU and on WebGPU when it initialises here; their config.json
// written back in the family's schema; LoRA on every projection of each family.
import {
  type BackendName,
  flattenParams,
  generate,
  hfConfigJson,
  initBackend,
  loadLora,
  loadPretrained,
  lora,
  mergeLora,
  type ParamTree,
  parseHfConfig,
  rng,
  saveLora,
  scope,
  type Tensor,
  tensor,
  treeDispose,
  treeMap,
  valueAndGrad,
} from "../../mod.ts";
import { assertClose } from "../_assert.ts";
import { assert, assertEquals } from "./_assert.ts";

interface Reference {
  prompts: number[][];
  models: Record<string, { logits: number[][][]; greedy: number[][] }>;
}

const DIR = new URL("../fixtures/nn/archs/", import.meta.url);
const reference: Reference = JSON.parse(
  await Deno.readTextFile(new URL("reference.json", DIR)),
);

/** What each fixture is, as its config and model report it. */
const EXPECTED: Record<string, { architecture: string; kind: string; layout: string }> = {
  gptneox_seq_tied: {
    architecture: "GPTNeoXForCausalLM",
    kind: "gptneox",
    layout: "sequential residual, rotary_pct 1.0, tied head, no attention bias, gelu_new",
  },
  gptneox_par_half: {
    architecture: "GPTNeoXForCausalLM",
    kind: "gptneox",
    layout: "parallel residual, rotary_pct 0.5, 3 layers of 2 heads, untied, exact gelu",
  },
  stablelm_qk_gqa: {
    architecture: "StableLmForCausalLM",
    kind: "stablelm",
    layout: "qk_layernorm, qkv bias, parallel residual, 4 heads on 2 kv heads, rotary 0.5",
  },
  falcon_new_kv2: {
    architecture: "FalconForCausalLM",
    kind: "falcon",
    layout: "new decoder architecture, 2 kv heads, ln_attn/ln_mlp, bias, untied",
  },
  falcon_new_ln1: {
    architecture: "FalconForCausalLM",
    kind: "falcon",
    layout: "new decoder architecture, 2 kv heads, one shared LayerNorm, tied",
  },
  falcon_seq_mha: {
    architecture: "FalconForCausalLM",
    kind: "falcon",
    layout: "original decoder, sequential residual, multi_query false, bias",
  },
};

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

Deno.test("every fixture folder has a reference and an expectation", () => {
  assertEquals(Object.keys(reference.models).sort(), Object.keys(EXPECTED).sort());
});

for (const backend of ["cpu", "webgpu"] as const) {
  const skip = await available(backend);
  if (skip && backend === "webgpu") console.log(`skipping arch fixtures on webgpu: ${skip}`);
  for (const [name, expected] of Object.entries(EXPECTED)) {
    Deno.test({
      name: `${name} (${expected.layout}) matches transformers on ${backend}`,
      ignore: skip !== null,
      sanitizeResources: backend === "cpu",
      sanitizeOps: backend === "cpu",
      fn: async (t) => {
        const ref = reference.models[name];
        const { model, params, config } = await loadPretrained(new URL(`${name}/`, DIR), {
          backend,
        });
        assertEquals([config.architecture, model.kind], [expected.architecture, expected.kind]);
        const ids = (row: number[]) => tensor([row], { dtype: "int32", backend });
        const logitsOf = async (row: number[]) => {
          const input = ids(row);
          const out = scope(() => model.apply(params, input));
          const data = await out.data();
          out.dispose();
          input.dispose();
          return data;
        };

        await t.step("logits of every position within 1e-4", async () => {
          for (let i = 0; i < reference.prompts.length; i++) {
            const data = await logitsOf(reference.prompts[i]);
            assertClose(data, ref.logits[i].flat(), { atol: 1e-4, rtol: 0, msg: `prompt ${i}` });
          }
        });

        await t.step("a KV-cached step equals recomputing the whole sequence", async () => {
          const prompt = reference.prompts[0], next = ref.greedy[0][0];
          const input = ids(prompt), step = ids([next]);
          const cached = scope(() => {
            const first = model.forward(params, input);
            return model.forward(params, step, { cache: first.cache }).logits;
          });
          const full = await logitsOf([...prompt, next]);
          const v = model.vocab;
          assertClose(await cached.data(), full.subarray(prompt.length * v), {
            atol: 1e-4,
            rtol: 0,
          });
          treeDispose([cached, input, step]);
        });

        await t.step("greedy tokens, one by one and batched with left padding", async () => {
          for (let i = 0; i < reference.prompts.length; i++) {
            const [one] = await generate(model, params, [reference.prompts[i]], {
              maxNewTokens: ref.greedy[i].length,
            });
            assertEquals(one, ref.greedy[i], `prompt ${i}`);
          }
          const all = await generate(model, params, reference.prompts, { maxNewTokens: 12 });
          assertEquals(all, ref.greedy);
        });
        treeDispose(params);
      },
    });
  }
}

Deno.test("each fixture's config.json written back in its family's schema parses the same", async () => {
  for (const name of Object.keys(EXPECTED)) {
    const raw = JSON.parse(await Deno.readTextFile(new URL(`${name}/config.json`, DIR)));
    const config = parseHfConfig(raw, name);
    const written = hfConfigJson(config);
    assertEquals(written.architectures, raw.architectures, name);
    assertEquals(written.model_type, raw.model_type, name);
    assertEquals(parseHfConfig(written, name), config, name);
  }
});

/** The projections LoRA adapts per family: all of them, and the untied head. */
const LORA: Record<string, { fixture: string; targets: string[]; perLayer: number }> = {
  gptneox: {
    fixture: "gptneox_par_half",
    targets: ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h", "embed_out"],
    perLayer: 4,
  },
  stablelm: {
    fixture: "stablelm_qk_gqa",
    targets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    perLayer: 7,
  },
  falcon: {
    fixture: "falcon_new_kv2",
    targets: ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h", "lm_head"],
    perLayer: 4,
  },
};

for (const [family, spec] of Object.entries(LORA)) {
  Deno.test(`LoRA on ${family}: every target trains, merges and saves`, async () => {
    const { model: base, params: weights, config } = await loadPretrained(
      new URL(`${spec.fixture}/`, DIR),
      { backend: "cpu" },
    );
    const model = lora(base, { rank: 2, alpha: 4, dropout: 0, targets: spec.targets });
    const head = config.tieEmbeddings ? 0 : 1;
    assertEquals(model.targets.length, spec.perLayer * config.layers + head);
    const params = model.wrap(weights, rng(3));
    const row = reference.prompts[0];
    const input = tensor([row.slice(0, -1)], { dtype: "int32" });
    const targets = tensor(row.slice(1), { dtype: "int32", shape: [row.length - 1, 1] });
    const v = base.vocab;
    const lossOf = (adapters: ParamTree): Tensor =>
      model.apply({ base: params.base, adapters }, input).reshape([row.length - 1, v])
        .logSoftmax(-1).gather(1, targets).mean().neg();

    // Step 1: B = 0, so only the B matrices get gradients, every one of them.
    const [loss0, grads] = valueAndGrad(lossOf)(params.adapters);
    const flat = flattenParams(grads);
    assertEquals(Object.keys(flat).sort(), Object.keys(flattenParams(params.adapters)).sort());
    for (const [name, g] of Object.entries(flat)) {
      const norm = Math.hypot(...await g.data());
      if (name.includes("lora_A")) assertEquals(norm, 0, name);
      else assert(norm > 0, `${name} has no gradient`);
    }
    const stepped = treeMap((p: Tensor, g: Tensor) => p.sub(g.mul(0.02)), params.adapters, grads);
    // Step 2: with B ≠ 0 every A matrix gets a gradient too, and the loss went down.
    const [loss1, grads1] = valueAndGrad(lossOf)(stepped);
    assert((await loss1.item()) < (await loss0.item()), "one SGD step did not lower the loss");
    for (const [name, g] of Object.entries(flattenParams(grads1))) {
      assert(Math.hypot(...await g.data()) > 0, `${name} has no gradient after a step`);
    }

    // mergeLora folds the adapters in: the merged base alone gives the adapted logits.
    const adapted = await model.apply({ base: params.base, adapters: stepped }, input).data();
    const merged = mergeLora(model, { base: params.base, adapters: stepped });
    assertClose(await base.apply(merged, input).data(), adapted, { atol: 1e-4, rtol: 0 });

    // saveLora / loadLora give the same adapters back.
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/adapter_model.safetensors`;
      await saveLora(path, model, stepped);
      const back = await loadLora(path);
      const a = flattenParams(stepped), b = flattenParams(back.adapters);
      assertEquals(Object.keys(b).sort(), Object.keys(a).sort());
      for (const k of Object.keys(a)) {
        assertClose(await b[k].data(), await a[k].data(), { atol: 0, rtol: 0, msg: k });
      }
      assertEquals([back.rank, back.alpha], [2, 4]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

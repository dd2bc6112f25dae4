// PEFT interop: adapters Python's PEFT 0.21 wrote (tests/fixtures/peft, made by make_peft.py)
// load here and give PEFT's logits, and what saveLora writes for the same options has PEFT's
// adapter_config.json, tensor names and shapes.
import {
  flattenParams,
  loadHfConfig,
  loadLora,
  loadPretrained,
  loadSafetensors,
  lora,
  type LoraModel,
  modelFromConfig,
  readSafetensorsHeader,
  rng,
  saveLora,
  type Tensor,
} from "../../mod.ts";
import { assertClose } from "../_assert.ts";
import { assert, assertEquals, assertRejects, haveTinyLlama, TINY_LLAMA_DIR } from "./_assert.ts";

const FIXTURES = new URL("../fixtures/peft/", import.meta.url);
const at = (p: string) => decodeURIComponent(new URL(p, FIXTURES).pathname);
const LLAMA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj"];

async function peftLogits(dir: string): Promise<{ ids: Tensor; logits: Float32Array }> {
  const { params } = await loadSafetensors(`${dir}/logits.safetensors`, { backend: "cpu" });
  const p = params as { ids: Tensor; logits: Tensor };
  return { ids: p.ids, logits: (await p.logits.data()) as Float32Array };
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(path));
}

/** Tensor names and shapes of a safetensors file. */
async function layout(path: string): Promise<Record<string, number[]>> {
  const header = await readSafetensorsHeader(path);
  return Object.fromEntries(Object.entries(header.tensors).map(([k, v]) => [k, [...v.shape]]));
}

/** Our adapter_config.json equals PEFT's, target_modules compared as a set (PEFT's is one). */
function assertSameConfig(ours: Record<string, unknown>, peft: Record<string, unknown>): void {
  assertEquals(Object.keys(ours), Object.keys(peft), "adapter_config.json fields");
  for (const k of Object.keys(peft)) {
    if (k === "target_modules") {
      assertEquals([...(ours[k] as string[])].sort(), [...(peft[k] as string[])].sort(), k);
    } else assertEquals(ours[k], peft[k], k);
  }
}

Deno.test("PEFT's Llama adapter (paper targets, lm_head too) gives PEFT's logits", async () => {
  if (!(await haveTinyLlama())) return;
  const pre = await loadPretrained(TINY_LLAMA_DIR, { backend: "cpu" });
  const saved = await loadLora(at("llama"));
  assertEquals([saved.rank, saved.alpha, saved.dropout], [4, 8, 0.05]);
  assertEquals(
    [...saved.targets!].sort(),
    [...LLAMA_TARGETS, "down_proj", "lm_head"].sort(),
  );
  // PEFT also stored lm_head's base weight; it is the base's, not an adapter.
  assertEquals(Object.keys(saved.baseWeights), ["lm_head.weight"]);
  const head = (pre.params as { lm_head: { weight: Tensor } }).lm_head.weight;
  assertEquals(await saved.baseWeights["lm_head.weight"].data(), await head.data());
  const model = lora(pre.model, { rank: saved.rank, alpha: saved.alpha, targets: "paper" });
  assertEquals(model.targets.length, 2 * 7 + 1);
  assertEquals(
    Object.keys(flattenParams(saved.adapters)).sort(),
    Object.keys(flattenParams(model.initAdapters(rng(1)))).sort(),
  );
  const { ids, logits } = await peftLogits(at("llama"));
  const ours = await model.apply({ base: pre.params, adapters: saved.adapters }, ids).data();
  const base = await pre.model.apply(pre.params, ids).data();
  assert(base.some((v, i) => Math.abs(v - logits[i]) > 0.1), "the adapter changes nothing");
  assertClose(ours, logits, { atol: 1e-4, rtol: 1e-4 });
});

Deno.test("PEFT's GPT-2 adapter (Conv1D, fan_in_fan_out) gives PEFT's logits", async () => {
  const config = await loadHfConfig(at("gpt2-base"));
  const gpt = modelFromConfig(config);
  const { params } = await loadSafetensors(at("gpt2-base/model.safetensors"), { backend: "cpu" });
  const saved = await loadLora(at("gpt2"));
  assertEquals([saved.rank, saved.alpha, saved.dropout], [2, 4, 0]);
  const model = lora(gpt, { rank: saved.rank, alpha: saved.alpha, targets: saved.targets });
  assertEquals(model.targets.length, 2 * 4);
  const { ids, logits } = await peftLogits(at("gpt2"));
  const ours = await model.apply({ base: params, adapters: saved.adapters }, ids).data();
  assertClose(ours, logits, { atol: 1e-4, rtol: 1e-4 });
});

Deno.test("saveLora writes PEFT's adapter_config.json, tensor names and shapes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // GPT-2: the paper preset is PEFT's [c_attn, c_proj, c_fc] with fan_in_fan_out.
    const gpt = modelFromConfig(await loadHfConfig(at("gpt2-base")));
    const g: LoraModel = lora(gpt, { rank: 2, alpha: 4, dropout: 0, targets: "paper" });
    await saveLora(`${dir}/gpt2`, g, g.initAdapters(rng(1), "cpu"), {
      baseModel: "tests/fixtures/peft/gpt2-base",
    });
    assertSameConfig(
      await readJson(`${dir}/gpt2/adapter_config.json`),
      await readJson(at("gpt2/adapter_config.json")),
    );
    assertEquals(
      await layout(`${dir}/gpt2/adapter_model.safetensors`),
      await layout(at("gpt2/adapter_model.safetensors")),
    );

    if (!(await haveTinyLlama())) return;
    const pre = await loadPretrained(TINY_LLAMA_DIR, { backend: "cpu" });
    const l = lora(pre.model, { rank: 4, alpha: 8, dropout: 0.05, targets: "paper" });
    await saveLora(`${dir}/llama`, l, l.wrap(pre.params, rng(1)).adapters, {
      baseModel: "../shared/models/tiny-llama-hf",
    });
    assertSameConfig(
      await readJson(`${dir}/llama/adapter_config.json`),
      await readJson(at("llama/adapter_config.json")),
    );
    // PEFT's file has the same adapters plus lm_head's base weight (save_embedding_layers).
    const peft = await layout(at("llama/adapter_model.safetensors"));
    const extra = "base_model.model.lm_head.base_layer.weight";
    assertEquals(peft[extra], [600, 64]);
    delete peft[extra];
    assertEquals(await layout(`${dir}/llama/adapter_model.safetensors`), peft);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadLora refuses PEFT options lossforge does not apply, naming the field", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(at("gpt2/adapter_model.safetensors"), `${dir}/adapter_model.safetensors`);
    const peft = await readJson(at("gpt2/adapter_config.json"));
    const cases: [Record<string, unknown>, string][] = [
      [{ use_dora: true }, "use_dora"],
      [{ use_rslora: true }, "use_rslora"],
      [{ bias: "all" }, "bias"],
      [{ rank_pattern: { c_attn: 4 } }, "rank_pattern"],
      [{ modules_to_save: ["lm_head"] }, "modules_to_save"],
      [{ target_modules: ".*c_attn" }, "target_modules"],
      [{ peft_type: "IA3" }, "peft_type"],
      [{ r: 0 }, "positive"],
    ];
    for (const [change, message] of cases) {
      const config = JSON.stringify({ ...peft, ...change });
      await Deno.writeTextFile(`${dir}/adapter_config.json`, config);
      await assertRejects(() => loadLora(dir), "adapter_config.json", message);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

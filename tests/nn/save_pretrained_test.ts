// savePretrained: the written folder loads back (loadPretrained) with identical logits and
// tokenizer ids, its config.json and generation_config.json are those transformers writes
// for the same model (tests/fixtures/save_pretrained, made by make_configs.py), bfloat16
// stores rounded weights, and a model it cannot write is a clear error.
import {
  bf16ToF32,
  byteTokenizer,
  f32ToBf16,
  flattenParams,
  llama,
  loadPretrained,
  lora,
  type ParamTree,
  rng,
  savePretrained,
  type Tensor,
  tensor,
  unflattenParams,
} from "../../mod.ts";
import {
  type Case,
  familyCases,
  mergedCase,
  scratchCases,
  TEXTS,
} from "../fixtures/save_pretrained/models.ts";
import { assert, assertEquals, assertRejects, haveTinyLlama, TINY_LLAMA_DIR } from "./_assert.ts";

const FIXTURES = new URL("../fixtures/save_pretrained/", import.meta.url);
const readJson = async (path: string | URL) => JSON.parse(await Deno.readTextFile(path));

async function logitsOf(c: Pick<Case, "model" | "params">, ids: number[]): Promise<number[]> {
  return Array.from(await c.model.apply(c.params, tensor([ids], { dtype: "int32" })).data());
}

/** The folder loads back with the same ids and logits as `c` (for `params`, default c's). */
async function assertRoundTrip(dir: string, c: Case, params: ParamTree = c.params) {
  const back = await loadPretrained(dir);
  assertEquals(back.config.architecture, c.model.config!.architecture);
  for (const text of TEXTS) {
    const ids = c.tokenizer.encode(text);
    assertEquals(back.tokenizer.encode(text), ids, `${c.name}: ids of ${JSON.stringify(text)}`);
    assertEquals(back.tokenizer.decode(ids), c.tokenizer.decode(ids), `${c.name}: decode`);
    assertEquals(
      await logitsOf(back, ids),
      await logitsOf({ model: c.model, params }, ids),
      `${c.name}: logits`,
    );
  }
  assertEquals([back.tokenizer.eos, back.tokenizer.pad], [c.tokenizer.eos, c.tokenizer.pad]);
}

/** `params` as bfloat16 would store them. */
async function roundedToBf16(params: ParamTree): Promise<ParamTree> {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(flattenParams(params))) {
    const values = bf16ToF32(f32ToBf16(await t.data() as Float32Array));
    out[name] = tensor(values, { shape: t.shape });
  }
  return unflattenParams(out);
}

Deno.test("savePretrained: from-scratch Llama, GPT-2, Qwen2 over bytes load back exactly", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const c of scratchCases()) {
      const dir = `${root}/${c.name}`;
      await savePretrained(dir, c.model, c.params, { tokenizer: c.tokenizer });
      await assertRoundTrip(dir, c);
      // Only the five files, no temporary ones left behind.
      const files = [];
      for await (const e of Deno.readDir(dir)) files.push(e.name);
      assertEquals(files.sort(), [
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
      ]);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("savePretrained: from-scratch GPT-NeoX, StableLM, Falcon load back exactly", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const c of familyCases()) {
      const dir = `${root}/${c.name}`;
      await savePretrained(dir, c.model, c.params, { tokenizer: c.tokenizer });
      await assertRoundTrip(dir, c);
      // The config reads back as written, with the tokenizer's special ids added.
      const ids = { bosTokenId: c.tokenizer.bos, eosTokenId: c.tokenizer.eos };
      assertEquals((await loadPretrained(dir)).model.config, { ...c.model.config, ...ids });
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("savePretrained: config.json and generation_config.json are transformers'", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const c of scratchCases()) {
      const dir = `${root}/${c.name}`;
      await savePretrained(dir, c.model, c.params, { tokenizer: c.tokenizer });
      const ours = await readJson(`${dir}/config.json`);
      const theirs = await readJson(new URL(`${c.name}.config.json`, FIXTURES));
      // Beside transformers 5's rope_parameters, the flat rope_theta that 4.x reads.
      if (theirs.rope_parameters) {
        assertEquals(ours.rope_theta, theirs.rope_parameters.rope_theta, c.name);
        delete ours.rope_theta;
      }
      assertEquals(Object.keys(ours), Object.keys(theirs), `${c.name}: config.json fields`);
      assertEquals(ours, theirs, `${c.name}: config.json`);
      assertEquals(
        await readJson(`${dir}/generation_config.json`),
        await readJson(new URL(`${c.name}.generation_config.json`, FIXTURES)),
        `${c.name}: generation_config.json`,
      );
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("savePretrained: bfloat16 stores the rounded weights in half the bytes", async () => {
  const root = await Deno.makeTempDir();
  try {
    const c = scratchCases()[0];
    await savePretrained(`${root}/f32`, c.model, c.params, { tokenizer: c.tokenizer });
    await savePretrained(`${root}/bf16`, c.model, c.params, {
      tokenizer: c.tokenizer,
      dtype: "bfloat16",
    });
    assertEquals((await readJson(`${root}/bf16/config.json`)).dtype, "bfloat16");
    const f32 = (await Deno.stat(`${root}/f32/model.safetensors`)).size;
    const bf16 = (await Deno.stat(`${root}/bf16/model.safetensors`)).size;
    assert(bf16 < 0.52 * f32, `bf16 file ${bf16} bytes vs f32 ${f32}`);
    await assertRoundTrip(`${root}/bf16`, c, await roundedToBf16(c.params));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("savePretrained: a LoRA model merged with mergeLora, with its BPE tokenizer", async () => {
  if (!(await haveTinyLlama())) return;
  const root = await Deno.makeTempDir();
  try {
    const c = await mergedCase(TINY_LLAMA_DIR);
    await savePretrained(root, c.model, c.params, { tokenizer: c.tokenizer });
    await assertRoundTrip(root, c);
    // The tokenizer files are the shared folder's own.
    for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
      assertEquals(await readJson(`${root}/${f}`), await readJson(new URL(f, TINY_LLAMA_DIR)), f);
    }
    const config = await readJson(`${root}/config.json`);
    const shared = await readJson(new URL("config.json", TINY_LLAMA_DIR));
    // initializer_range only seeds a fresh init and is not part of the model's config here;
    // pad_token_id is the tokenizer's (the shared config leaves it null).
    assertEquals(config.pad_token_id, c.tokenizer.pad);
    for (const k of Object.keys(shared)) {
      if (["transformers_version", "initializer_range", "pad_token_id"].includes(k)) continue;
      assertEquals(config[k], shared[k], `config.json ${k}`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("savePretrained: what it cannot write is an error naming why", async () => {
  const root = await Deno.makeTempDir();
  try {
    const model = llama({ vocab: 259, dim: 8, layers: 1, heads: 2, hidden: 16 });
    const params = model.init(rng(0));
    const lm = lora(model, { rank: 2 });
    await assertRejects(
      () => savePretrained(root, lm, lm.wrap(params, rng(1))),
      "LoRA model",
      "mergeLora",
    );
    const other = llama({ vocab: 259, dim: 8, layers: 2, heads: 2, hidden: 16 });
    await assertRejects(
      () => savePretrained(root, other, params),
      "params do not fit",
      "model.layers.1.self_attn.q_proj.weight",
    );
    const { config: _, ...bare } = model;
    await assertRejects(() => savePretrained(root, bare, params), "no Hugging Face config");
    await assertRejects(
      () => savePretrained(root, model, params, { dtype: "float16" as never }),
      "dtype",
    );
    const custom = { ...byteTokenizer(), vocabSize: 300 };
    await assertRejects(
      () => savePretrained(root, model, params, { tokenizer: custom }),
      "cannot write this tokenizer",
    );
    // Nothing was written by the refused calls.
    const left = [];
    for await (const e of Deno.readDir(root)) left.push(e.name);
    assertEquals(left, []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

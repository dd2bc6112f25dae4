/**
 * Tokenizer layouts the real files do not cover, made by replacing components of them
 * (Metaspace with each prepend scheme and split, Punctuation behaviours, Falcon's
 * pre-tokenizer, Strip/Replace/Prepend normalizers, byte fallback and unk fusing on and off,
 * decoders, post-processors, added-token flags) and a small model with a subword prefix and
 * a word suffix, against Hugging Face `tokenizers` 0.23.2
 * (tests/fixtures/tokenizers/make_reference.py made the references).
 */

import { bpeTokenizerFromJSON } from "../../src/tokenizers/mod.ts";
import type { JsonObject } from "../../src/tokenizers/hf_json.ts";
import { assert } from "../nn/_assert.ts";
import {
  applyVariant,
  checkText,
  fixture,
  gsm8kTexts,
  realTokenizerJson,
  type TextRef,
  type Texts,
} from "./_fixtures.ts";

interface Synthetic {
  gsm8kCount: number;
  pool: TextRef[];
  variants: Record<string, { base: string; top: JsonObject; model: JsonObject; texts: number[] }>;
}

const texts = await fixture<Texts>("texts.json");
const synthetic = await fixture<Synthetic>("synthetic.json");
const bases = new Map<string, JsonObject>();

async function base(name: string): Promise<JsonObject> {
  if (!bases.has(name)) {
    bases.set(
      name,
      name === "tiny_affixes"
        ? await fixture<JsonObject>("tiny_affixes_tokenizer.json")
        : await realTokenizerJson(name as "llama2" | "llama3" | "gpt2"),
    );
  }
  return bases.get(name)!;
}

const gsm = await gsm8kTexts(texts.gsm8k);

for (const [name, v] of Object.entries(synthetic.variants)) {
  Deno.test(`synthetic ${name}: ids and decodes equal Hugging Face's`, async () => {
    const json = applyVariant(await base(v.base), v.top, v.model);
    const tok = bpeTokenizerFromJSON(json, undefined, `${name} tokenizer.json`);
    const all = [...texts.hard, ...(gsm ?? []).slice(0, synthetic.gsm8kCount)];
    assert(v.texts.length === texts.hard.length + synthetic.gsm8kCount);
    let n = 0;
    for (let i = 0; i < all.length; i++) {
      n += await checkText(tok, all[i], synthetic.pool[v.texts[i]], `${name} text ${i}`);
    }
    assert(n >= 3 * texts.hard.length, `${n} comparisons`);
  });
}

// Writing tokenizers back out: the byte tokenizer's tokenizer.json is the one Hugging Face
// `tokenizers` builds for it (tests/fixtures/save_pretrained/make_byte_tokenizer.py), with its
// ids and decodes; a loaded BPE tokenizer is written as read; saveTokenizer's folder loads
// back with the same ids and special tokens.
import {
  byteTokenizer,
  byteTokenizerJson,
  loadTokenizer,
  saveTokenizer,
  tokenizerConfigJson,
  tokenizerJson,
} from "../../mod.ts";
import { assertEquals, assertThrows } from "../_assert.ts";

const FIXTURES = new URL("../fixtures/save_pretrained/", import.meta.url);
const TINY = new URL("../../../shared/models/tiny-llama-hf/", import.meta.url);
const readJson = async (url: URL | string) => JSON.parse(await Deno.readTextFile(url));

Deno.test("byteTokenizerJson equals what Hugging Face tokenizers writes for it", async () => {
  assertEquals(byteTokenizerJson(), await readJson(new URL("byte_tokenizer.json", FIXTURES)));
});

Deno.test("the exported byte tokenizer encodes and decodes as Hugging Face and as bytes", async () => {
  const cases = await readJson(new URL("byte_tokenizer_cases.json", FIXTURES));
  const dir = await Deno.makeTempDir();
  try {
    await saveTokenizer(dir, byteTokenizer());
    const loaded = await loadTokenizer(dir);
    const bytes = byteTokenizer();
    for (const { text, ids } of cases.encode) {
      assertEquals(bytes.encode(text), ids, `byteTokenizer ${JSON.stringify(text)}`);
      assertEquals(loaded.encode(text), ids, `reloaded ${JSON.stringify(text)}`);
    }
    for (const { ids, text } of cases.decode) {
      assertEquals(bytes.decode(ids), text, `byteTokenizer decode ${ids}`);
      assertEquals(loaded.decode(ids, { skipSpecial: true }), text, `reloaded decode ${ids}`);
    }
    assertEquals([loaded.bos, loaded.eos, loaded.pad, loaded.vocabSize], [257, 258, 256, 259]);
    assertEquals(await readJson(`${dir}/tokenizer_config.json`), {
      tokenizer_class: "PreTrainedTokenizerFast",
      bos_token: "<|bos|>",
      eos_token: "<|eos|>",
      pad_token: "<|pad|>",
      clean_up_tokenization_spaces: false,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a loaded BPE tokenizer is written back as it was read", async () => {
  const present = await Deno.stat(TINY).then(() => true, () => false);
  if (!present) return console.log(`skipped: ${TINY.pathname} not found`);
  const tok = await loadTokenizer(TINY);
  assertEquals(tokenizerJson(tok), await readJson(new URL("tokenizer.json", TINY)));
  assertEquals(tokenizerConfigJson(tok), await readJson(new URL("tokenizer_config.json", TINY)));
});

Deno.test("a tokenizer it cannot write is an error", () => {
  const custom = { ...byteTokenizer(), encode: (s: string) => [...s].map(() => 0) };
  assertThrows(() => tokenizerJson(custom), Error, "cannot write this tokenizer");
  assertThrows(() => tokenizerConfigJson(custom), Error, "cannot write this tokenizer");
});

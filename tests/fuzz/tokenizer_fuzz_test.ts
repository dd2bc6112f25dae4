// Fuzzing tokenizer.json: the JSON mutated node by node (vocab, merges, pre-tokenizer,
// decoder, added tokens), or its text cut and mangled, builds a tokenizer that encodes and
// decodes, or throws a named error naming the file.
import { bpeTokenizerFromJSON, loadTokenizer } from "../../mod.ts";
import { assert } from "../_assert.ts";
import { applyBytes, applyJson, byteEdits, fuzz, jsonEdits } from "./_fuzz.ts";
import { haveTinyLlama, TINY_LLAMA } from "./_fixtures.ts";

const ignore = !haveTinyLlama();
const SAMPLE = "Ann has 12 apples, and gets 3 more. How many? <|endoftext|>";

Deno.test({
  name: "fuzz: tokenizer.json mutated node by node",
  ignore,
  fn: async () => {
    const json = JSON.parse(await Deno.readTextFile(new URL("tokenizer.json", TINY_LLAMA)));
    const special = { eos_token: "<|endoftext|>", pad_token: "<|pad|>" };
    const stats = await fuzz("tokenizer.json", jsonEdits(), (edits) => {
      const tok = bpeTokenizerFromJSON(applyJson(json, edits), special, "tokenizer.json");
      tok.decode(tok.encode(SAMPLE));
    }, () => "tokenizer.json");
    assert(stats.cases > 100, `${stats.cases} cases`);
  },
});

Deno.test({
  name: "fuzz: tokenizer.json text cut and mangled, read from disk",
  ignore,
  fn: async () => {
    const text = await Deno.readFile(new URL("tokenizer.json", TINY_LLAMA));
    const dir = await Deno.makeTempDir();
    const path = `${dir}/tokenizer.json`;
    const stats = await fuzz("tokenizer.json text", byteEdits(600), async (edits) => {
      await Deno.writeFile(path, applyBytes(text, edits));
      const tok = await loadTokenizer(path);
      tok.decode(tok.encode(SAMPLE));
    }, () => path);
    assert(stats.cases > 50, `${stats.cases} cases`);
    await Deno.remove(dir, { recursive: true });
  },
});

// Fuzzing config.json: a Hugging Face model config mutated node by node (odd numbers, wrong
// types, missing fields) parses and builds a model, or throws a named error naming the file.
import { modelFromConfig, parseHfConfig } from "../../mod.ts";
import { assert } from "../_assert.ts";
import { applyJson, fuzz, jsonEdits } from "./_fuzz.ts";
import { haveTinyLlama, TINY_LLAMA } from "./_fixtures.ts";

const GPT2 = {
  architectures: ["GPT2LMHeadModel"],
  vocab_size: 16,
  n_embd: 8,
  n_layer: 1,
  n_head: 2,
  n_positions: 8,
  activation_function: "gelu_new",
  layer_norm_epsilon: 1e-5,
  tie_word_embeddings: true,
};

for (
  const [label, load] of [
    ["llama", () => Deno.readTextFile(new URL("config.json", TINY_LLAMA)).then(JSON.parse)],
    ["gpt2", () => Promise.resolve(GPT2)],
  ] as const
) {
  Deno.test({
    name: `fuzz: config.json (${label}) mutated node by node`,
    ignore: label === "llama" && !haveTinyLlama(),
    fn: async () => {
      const config = await load();
      const stats = await fuzz(`config.json (${label})`, jsonEdits(), (edits) => {
        modelFromConfig(parseHfConfig(applyJson(config, edits), "config.json"));
      }, () => "config.json");
      assert(stats.cases > 100, `${stats.cases} cases`);
    },
  });
}

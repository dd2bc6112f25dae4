// LoRA target presets: "paper" and "attention" pick the family's projections by model.kind
// (the paper's: GPT-NeoX query_key_value; Falcon every linear; Llama and StableLM every
// projection and lm_head), a tied head is skipped, and bad targets are errors that list the
// model's projections.
import {
  gpt,
  type LanguageModel,
  type LinearInfo,
  llama,
  lora,
  LORA_PRESETS,
  type ParamTree,
} from "../../mod.ts";
import { assertEquals, assertThrows } from "./_assert.ts";

const untied = llama({ vocab: 9, dim: 8, layers: 2, heads: 2, kvHeads: 1, hidden: 12 });
const tied = llama({ vocab: 9, dim: 8, layers: 1, heads: 2, hidden: 12, tieEmbeddings: true });
const gpt2 = gpt({ vocab: 9, context: 8, layers: 2, dim: 8, heads: 2 });

/** The adapted module names without the layer prefix, in order, for one layer. */
const picked = (m: LanguageModel<ParamTree>, targets: Parameters<typeof lora>[1]) =>
  lora(m, targets).targets.map((t) => t.name);

/** A model of a family this branch does not build, with Hugging Face module names. */
function fake(kind: string, names: string[]): LanguageModel<ParamTree> {
  const linears: LinearInfo[] = names.map((name) => ({
    name,
    inDim: 8,
    outDim: 8,
    layout: "out_in",
  }));
  return { ...untied, kind: kind as "llama", linears } as unknown as LanguageModel<ParamTree>;
}

Deno.test("paper preset: Llama's seven projections per layer and an untied lm_head", () => {
  const names = picked(untied, { targets: "paper" });
  assertEquals(names.length, 2 * 7 + 1);
  assertEquals(names.slice(0, 7), [
    "model.layers.0.self_attn.q_proj",
    "model.layers.0.self_attn.k_proj",
    "model.layers.0.self_attn.v_proj",
    "model.layers.0.self_attn.o_proj",
    "model.layers.0.mlp.gate_proj",
    "model.layers.0.mlp.up_proj",
    "model.layers.0.mlp.down_proj",
  ]);
  assertEquals(names.at(-1), "lm_head");
  assertEquals(lora(untied, { targets: "paper" }).options.targets, LORA_PRESETS.llama.paper);
});

Deno.test("paper preset: a tied head is the embedding, so lm_head is left out", () => {
  const model = lora(tied, { targets: "paper" });
  assertEquals(model.targets.length, 7);
  assertEquals(model.options.targets, LORA_PRESETS.llama.paper.filter((t) => t !== "lm_head"));
});

Deno.test("attention preset: q, k, v, o for Llama; c_attn and attn.c_proj for GPT-2", () => {
  assertEquals(picked(tied, { targets: "attention" }), [
    "model.layers.0.self_attn.q_proj",
    "model.layers.0.self_attn.k_proj",
    "model.layers.0.self_attn.v_proj",
    "model.layers.0.self_attn.o_proj",
  ]);
  assertEquals(picked(gpt2, { targets: "attention" }), [
    "transformer.h.0.attn.c_attn",
    "transformer.h.0.attn.c_proj",
    "transformer.h.1.attn.c_attn",
    "transformer.h.1.attn.c_proj",
  ]);
});

Deno.test("paper preset for GPT-2: every linear of a block", () => {
  assertEquals(picked(gpt2, { targets: "paper" }).slice(0, 4), [
    "transformer.h.0.attn.c_attn",
    "transformer.h.0.attn.c_proj",
    "transformer.h.0.mlp.c_fc",
    "transformer.h.0.mlp.c_proj",
  ]);
  assertEquals(picked(gpt2, { targets: "paper" }).length, 8);
});

Deno.test("paper and attention presets of GPT-NeoX, Falcon and StableLM, by kind", () => {
  const neox = fake("gptneox", [
    "gpt_neox.layers.0.attention.query_key_value",
    "gpt_neox.layers.0.attention.dense",
    "gpt_neox.layers.0.mlp.dense_h_to_4h",
    "gpt_neox.layers.0.mlp.dense_4h_to_h",
    "embed_out",
  ]);
  assertEquals(picked(neox, { targets: "paper" }), ["gpt_neox.layers.0.attention.query_key_value"]);
  assertEquals(picked(neox, { targets: "attention" }), [
    "gpt_neox.layers.0.attention.query_key_value",
    "gpt_neox.layers.0.attention.dense",
  ]);
  const falcon = fake("falcon", [
    "transformer.h.0.self_attention.query_key_value",
    "transformer.h.0.self_attention.dense",
    "transformer.h.0.mlp.dense_h_to_4h",
    "transformer.h.0.mlp.dense_4h_to_h",
    "lm_head",
  ]);
  assertEquals(picked(falcon, { targets: "paper" }), falcon.linears.slice(0, 4).map((l) => l.name));
  assertEquals(picked(falcon, { targets: "attention" }).length, 2);
  const stable = fake("stablelm", untied.linears.map((l) => l.name));
  assertEquals(picked(stable, { targets: "paper" }).length, 2 * 7 + 1);
});

Deno.test("bad targets are errors naming the option and listing the projections", () => {
  assertThrows(
    () => lora(untied, { targets: "everything" as "paper" }),
    'targets "everything" is not a preset (paper, attention)',
    "self_attn.q_proj",
    "mlp.down_proj",
    "lm_head",
  );
  assertThrows(
    () => lora(fake("mamba", ["backbone.layers.0.mixer.in_proj"]), { targets: "paper" }),
    'no preset for model kind "mamba"',
    "mixer.in_proj",
  );
  assertThrows(
    () => lora(untied, { targets: ["q_proj", "qproj"] }),
    "targets [qproj] match no projection",
    "self_attn.q_proj",
  );
  // A preset whose names this model lacks entirely.
  assertThrows(
    () => lora(fake("gptneox", ["model.layers.0.self_attn.q_proj"]), { targets: "paper" }),
    'targets "paper" match no projection',
    "self_attn.q_proj",
  );
});

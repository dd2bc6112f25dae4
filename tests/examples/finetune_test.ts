// Smoke tests of the LoRA fine-tuning example on the tiny Llama folder the project shares
// (../shared/models/tiny-llama-hf beside the repository). Without it the tests are skipped,
// except in CI (env CI set), where a missing model is a failure.
import "../../src/cpu/mod.ts"; // registers the cpu backend (mod.ts would also probe for a GPU)
import { loadLora, loadPretrained } from "../../src/nn/mod.ts";
import { tensor } from "../../src/autograd/mod.ts";
import { assert, assertEquals } from "../_assert.ts";
import { assertBadInput, runExample } from "./_run.ts";

const root = new URL("../../", import.meta.url).pathname;

const model = decodeURIComponent(
  new URL("../shared/models/tiny-llama-hf", `file://${root}`).pathname,
);
const haveModel = await Deno.stat(`${model}/config.json`).then(() => true, () => false);
const inCi = (Deno.env.get("CI") ?? "") !== "";
if (!haveModel) {
  console.log(`finetune example tests: ${model} not found${inCi ? " (CI: failing)" : "; skipped"}`);
}
const ignore = !haveModel && !inCi;

const TINY = ["--count", "4", "--batch", "2", "--backend", "cpu"];

Deno.test({
  name: "finetune example: trains the adapters and saves them in PEFT's format",
  ignore,
  async fn() {
    assert(haveModel, `${model}/config.json is missing`);
    const dir = `${await Deno.makeTempDir()}/out`;
    const r = await runExample("finetune.ts", [
      ...TINY,
      "--steps",
      "20",
      "--model",
      model,
      "--out",
      dir,
    ]);
    assertEquals(r.code, 0, r.err);
    assert(r.out.includes("before: ") && r.out.includes("after: "), r.out);
    const losses = [...r.out.matchAll(/step +\d+ +loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
    assertEquals(losses.length, 2, r.out);
    assert(losses[1] < losses[0], `loss should fall: ${losses}`);
    const saved = await loadLora(`${dir}/adapter_model.safetensors`);
    assertEquals(saved.rank, 8);
    assertEquals(saved.alpha, 16);
    // The paper's Llama targets: A and B on 7 projections in each of the 2 layers and on
    // lm_head, nothing of the frozen base.
    const names: string[] = [];
    const walk = (t: unknown, path: string) => {
      if (t && typeof t === "object" && !("shape" in t)) {
        for (const [k, v] of Object.entries(t)) walk(v, path ? `${path}.${k}` : k);
      } else names.push(path);
    };
    walk(saved.adapters, "");
    assertEquals(names.length, 30, names.join(", "));
    assert(names.includes("lm_head.lora_B.weight"), names.join(", "));
    assert(names.every((n) => /lora_[AB]\.weight$/.test(n)), names.join(", "));
    const config = JSON.parse(await Deno.readTextFile(`${dir}/adapter_config.json`));
    assertEquals([config.peft_type, config.r, config.lora_alpha], ["LORA", 8, 16]);
    assertEquals(config.base_model_name_or_path, model);
  },
});

Deno.test({
  name: "finetune example: --lora-targets attention, --save-pretrained writes the merged model",
  ignore,
  async fn() {
    const dir = `${await Deno.makeTempDir()}/out`, merged = `${dir}-merged`;
    const r = await runExample("finetune.ts", [
      ...TINY,
      "--steps",
      "2",
      "--lora-targets",
      "attention",
      "--out",
      dir,
      "--save-pretrained",
      merged,
    ]);
    assertEquals(r.code, 0, r.err);
    assert(r.out.includes("on 8 projections"), r.out);
    const config = JSON.parse(await Deno.readTextFile(`${dir}/adapter_config.json`));
    assertEquals(config.target_modules, ["q_proj", "k_proj", "v_proj", "o_proj"]);
    const back = await loadPretrained(merged, { backend: "cpu" });
    assertEquals(back.config.architecture, "LlamaForCausalLM");
    const ids = tensor([back.tokenizer.encode("Ann has 3 apples")], { dtype: "int32" });
    const base = await loadPretrained(model, { backend: "cpu" });
    const before = await base.model.apply(base.params, ids).data();
    const after = await back.model.apply(back.params, ids).data();
    assert(after.some((x, i) => x !== before[i]), "the merged model equals the base");
  },
});

Deno.test({
  name: "finetune example: --data reads GSM8K JSONL, with a combined loss",
  ignore,
  async fn() {
    const data = await Deno.makeTempDir();
    const lines = Array.from({ length: 6 }, (_, i) =>
      JSON.stringify({
        question: `Ann has ${i} apples and gets 2 more. How many?`,
        answer: `She has ${i}+2=<<${i}+2=${i + 2}>>${i + 2}.\n#### ${i + 2}`,
      }));
    await Deno.writeTextFile(`${data}/train.jsonl`, lines.join("\n") + "\n");
    const dir = `${await Deno.makeTempDir()}/out`;
    const r = await runExample("finetune.ts", [
      ...TINY,
      "--steps",
      "2",
      "--data",
      data,
      "--loss",
      "lovasz",
      "--out",
      dir,
    ]);
    assertEquals(r.code, 0, r.err);
    assert(r.out.includes("Ann has"), r.out);
    await Deno.stat(`${dir}/adapter_model.safetensors`);
  },
});

Deno.test("finetune example: bad input is one line, exit code 2, nothing written", async () => {
  const help = await runExample("finetune.ts", ["--help"]);
  assertEquals(help.code, 0);
  const flags = ["--model", "--data", "--steps", "--loss", "--rank", "--backend", "--out"];
  for (const flag of [...flags, "--lora-targets", "--save-pretrained"]) {
    assert(help.out.includes(flag), flag);
  }
  const empty = await Deno.makeTempDir();
  const cases: [string[], string][] = [
    [["--model", empty], "no config.json"],
    [["--data", "/nonexistent/gsm8k"], "train.jsonl not found"],
    [["--loss", "nope"], "valid: ce, focal"],
    [["--steps", "0"], "--steps"],
    [["--lr", "fast"], "--lr"],
    [["--backend", "tpu"], "--backend"],
    [["--bogus"], "bogus"],
    [["--lora-targets", "q_proj;v_proj"], "--lora-targets: expected paper, attention or"],
  ];
  if (haveModel) cases.push([["--lora-targets", "q_proj,query"], "[query] match no projection"]);
  await assertBadInput("finetune.ts", cases);
});

// The paper's four families (the shared paper-archs checkpoints): a short LoRA fine-tune of
// each runs and writes adapters on the family's paper targets; one keeps its bf16 base.
const ARCHS = decodeURIComponent(
  new URL("../shared/models/paper-archs", `file://${root}`).pathname,
);
const haveArchs = await Deno.stat(`${ARCHS}/reference.json`).then(() => true, () => false);
if (!haveArchs) {
  console.log(
    `finetune paper families: ${ARCHS} not found${inCi ? " (CI: failing)" : "; skipped"}`,
  );
}
const PAPER_TARGETS: Record<string, string[]> = {
  gptneox: ["query_key_value"],
  stablelm: [
    "down_proj",
    "gate_proj",
    "k_proj",
    "lm_head",
    "o_proj",
    "q_proj",
    "up_proj",
    "v_proj",
  ],
  falcon: ["dense", "dense_4h_to_h", "dense_h_to_4h", "query_key_value"],
  llama2: ["down_proj", "gate_proj", "k_proj", "lm_head", "o_proj", "q_proj", "up_proj", "v_proj"],
};
for (const [family, targets] of Object.entries(PAPER_TARGETS)) {
  Deno.test({
    name: `finetune example: a LoRA fine-tune of the paper family ${family}`,
    ignore: !haveArchs && !inCi,
    async fn() {
      assert(haveArchs, `${ARCHS}/reference.json is missing`);
      const dir = `${await Deno.makeTempDir()}/out`;
      const keep = family === "falcon" ? ["--base-dtype", "keep"] : [];
      const r = await runExample("finetune.ts", [
        "--count",
        "2",
        "--batch",
        "1",
        "--backend",
        "cpu",
        "--steps",
        "2",
        "--model",
        `${ARCHS}/${family}`,
        "--out",
        dir,
        ...keep,
      ]);
      assertEquals(r.code, 0, r.err);
      const config = JSON.parse(await Deno.readTextFile(`${dir}/adapter_config.json`));
      assertEquals([...config.target_modules].sort(), targets);
      await Deno.remove(dir, { recursive: true });
    },
  });
}

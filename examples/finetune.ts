/**
 * LoRA fine-tuning of a pretrained Hugging Face model folder on GSM8K-style problems: load
 * `config.json`, `model.safetensors` and `tokenizer.json` with `loadPretrained`, wrap the
 * model with `lora` (r = 8, α = 16 on the paper's projections for the model's family),
 * train only the adapters with the pipeline runner, show a greedy answer before and after,
 * and save the adapters in PEFT's format (`adapter_model.safetensors` and
 * `adapter_config.json`), which `loadLora` (or Python's `peft`) reads back; with
 * `--save-pretrained DIR` also the merged model as a Hugging Face folder.
 *
 *   deno run -A examples/finetune.ts                     # ../shared/models/tiny-llama-hf
 *   deno run -A examples/finetune.ts --model DIR --data DIR --steps 200
 *
 * With a handful of examples the model memorises them: this shows the mechanics, not a
 * benchmark (examples/gsm8k.ts --model DIR evaluates exact match on held-out problems).
 * @module
 */
import { choice, commandLine, int, isFile, num, runMain, text, UsageError } from "./_cli.ts";
import { loraFromFlags, loraTargets } from "./_cli.ts";
import {
  greedyGenerate,
  gsm8k,
  gsm8kSynthetic,
  inlineData,
  loadPretrained,
  LOSS_NAMES,
  mergeLora,
  type ParamTree,
  pipeline,
  type PipelineSpec,
  rng,
  saveLora,
  savePretrained,
  setBackend,
  train,
} from "../mod.ts";

const ROOT = new URL("../", import.meta.url);
const DEFAULT_MODEL = decodeURIComponent(new URL("../shared/models/tiny-llama-hf", ROOT).pathname);

// deno-fmt-ignore
const cli = commandLine({
  title: "examples/finetune.ts: LoRA fine-tuning of a Hugging Face model folder",
  usage: "deno run -A examples/finetune.ts [flags]",
  flags: {
    model: text("DIR", `Hugging Face folder: config.json, model.safetensors, tokenizer.json
(default ../shared/models/tiny-llama-hf beside the repository)`),
    data: text("DIR", `folder with GSM8K's train.jsonl: train on its first --count problems
(default: synthetic GSM-style problems)`),
    count: int("N", "training problems", { default: 8, min: 1 }),
    steps: int("N", "optimizer steps", { default: 60, min: 1 }),
    batch: int("N", "problems per step", { default: 4, min: 1 }),
    lr: num("X", "learning rate (default 1e-2)", { default: 1e-2, min: 0 }),
    rank: int("N", "LoRA rank r (default 8; alpha is 2r)", { default: 8, min: 1 }),
    "lora-targets": loraTargets(`paper (default), attention, or module names (q_proj,v_proj):
paper = the paper's for the model's family (Llama, StableLM: q/k/v/o_proj,
gate/up/down_proj, lm_head; GPT-NeoX: query_key_value; Falcon: every linear;
GPT-2: c_attn, c_proj, c_fc); attention = the attention projections`),
    loss: choice("NAME", `ce (default), or 0.6 ce + 0.4 NAME on the answer tokens, NAME from:
${LOSS_NAMES.filter((n) => n !== "ce").join(", ")}`,
      { choices: LOSS_NAMES, default: "ce", noun: "loss" }),
    seed: int("N", "seed for data, adapters and batching", { default: 42, min: 0 }),
    backend: choice("NAME", "cpu (default) or webgpu",
      { choices: ["cpu", "webgpu"], default: "cpu" }),
    "base-dtype": choice("NAME", `keep: a bfloat16/float16 base stays 2 bytes per weight
(widened inside the matmul); float32 (default): widen it at load`,
      { choices: ["float32", "keep"], default: "float32" }),
    out: text("DIR", "where the adapters go (default runs/finetune-<timestamp>)"),
    "save-pretrained": text("DIR", `also write the merged model (adapters folded into the base)
as a Hugging Face folder that transformers loads`),
  },
  footer: "Exit codes: 0 success, 2 bad input, 1 internal error.",
});

async function main(): Promise<number> {
  const v = await cli.parse(Deno.args);
  if (!v) return 0;
  const { count, steps, batch, lr, rank, seed, loss: lossName, backend } = v;
  if (v.data !== undefined && !(await isFile(`${v.data}/train.jsonl`))) {
    throw new UsageError(`--data ${v.data}: train.jsonl not found (give a GSM8K folder)`);
  }
  const modelDir = v.model ?? DEFAULT_MODEL;
  if (!(await isFile(`${modelDir}/config.json`))) {
    throw new UsageError(
      v.model === undefined
        ? `no default model at ${modelDir}; pass --model DIR (a Hugging Face model folder)`
        : `--model ${modelDir}: no config.json there (expected a Hugging Face model folder)`,
    );
  }
  await setBackend(backend);

  // The problems: the first `count` of GSM8K's train split, or synthetic ones.
  let problems;
  try {
    problems = v.data === undefined
      ? gsm8kSynthetic({ seed, count, difficulty: 1 })
      : (await gsm8k({ path: v.data, split: "train" })).slice(0, count);
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]);
  }

  // The frozen base model and LoRA adapters on the paper's projections (or those asked for).
  const pre = await loadPretrained(modelDir, { dtype: v.baseDtype as "float32" | "keep" });
  const targets = v.loraTargets ?? "paper";
  const lm = loraFromFlags(pre.model, { rank, alpha: 2 * rank, dropout: 0.05, targets });
  // The pipeline's model: its parameters are only the adapters; the base is frozen inside.
  const model = lm.withBase(pre.params);
  const maxLength = 96;
  const data = { ...inlineData({ train: problems, maxLength }), tokenizer: pre.tokenizer };
  const loss: PipelineSpec["loss"] = lossName === "ce" ? "ce" : {
    kind: "combine",
    options: { terms: [["ce", 0.6], [lossName, 0.4, { mask: "answer" }]] },
  };
  console.log(
    `${modelDir}: ${pre.config.architecture}, ${pre.model.layers} layers; LoRA r=${rank} on ${lm.targets.length} projections; ${problems.length} problems`,
  );

  const shown = problems[0];
  const answer = async (adapters: ParamTree) =>
    (await greedyGenerate(model, adapters, pre.tokenizer, [shown.prompt], {
      maxNewTokens: 24,
      context: pre.model.context,
    }))[0];
  console.log(`\n${shown.prompt}`);
  console.log(`  before: ${JSON.stringify(await answer(model.init(rng(seed))))}`);

  const run = pipeline({
    model,
    loss,
    optimizer: { kind: "adamw", options: { lr, weightDecay: 0.01 } },
    data,
    steps,
    batchSize: batch,
    seed,
    logEvery: 10,
  });
  const result = await train(run, {
    progress: false,
    onEvent: (e) => console.log(`  step ${String(e.step).padStart(4)}  loss ${e.loss.toFixed(3)}`),
  });
  console.log(`  after:  ${JSON.stringify(await answer(result.params))}`);
  console.log(`  target: ${JSON.stringify(shown.target)}`);

  const out = v.out ?? `runs/finetune-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  const adapters = result.params as ParamTree;
  await saveLora(out, lm, adapters, { baseModel: modelDir });
  console.log(`\nwrote ${out}/adapter_model.safetensors and adapter_config.json`);
  if (v.savePretrained !== undefined) {
    const merged = mergeLora(lm, { base: pre.params, adapters });
    await savePretrained(v.savePretrained, pre.model, merged, { tokenizer: pre.tokenizer });
    console.log(
      `wrote the merged model to ${v.savePretrained} (config.json, model.safetensors, ...)`,
    );
  }
  return 0;
}

if (import.meta.main) await runMain(main);

/**
 * LoRA fine-tuning of a pretrained Hugging Face model folder on GSM8K-style problems: load
 * `config.json`, `model.safetensors` and `tokenizer.json` with `loadPretrained`, wrap the
 * model with `lora` (r = 8, α = 16 on the attention and MLP projections, as in the paper),
 * train only the adapters with the pipeline runner, show a greedy answer before and after,
 * and save the adapters in PEFT's format (`adapter_model.safetensors` and
 * `adapter_config.json`), which `loadLora` (or Python's `peft`) reads back.
 *
 *   deno run -A examples/finetune.ts                     # ../shared/models/tiny-llama-hf
 *   deno run -A examples/finetune.ts --model DIR --data DIR --steps 200
 *
 * With a handful of examples the model memorises them: this shows the mechanics, not a
 * benchmark (examples/gsm8k.ts --model DIR evaluates exact match on held-out problems).
 * @module
 */
import { isFile, parseNumber, runMain, UsageError } from "./_cli.ts";
import { parseArgs } from "node:util";
import {
  greedyGenerate,
  gsm8k,
  gsm8kSynthetic,
  inlineData,
  loadPretrained,
  lora,
  LOSS_NAMES,
  type ModelLike,
  type ParamTree,
  pipeline,
  type PipelineSpec,
  rng,
  saveLora,
  setBackend,
  train,
} from "../mod.ts";

const ROOT = new URL("../", import.meta.url);
const DEFAULT_MODEL = decodeURIComponent(new URL("../shared/models/tiny-llama-hf", ROOT).pathname);

const HELP = `examples/finetune.ts: LoRA fine-tuning of a Hugging Face model folder

Usage: deno run -A examples/finetune.ts [flags]

  --model DIR       Hugging Face folder: config.json, model.safetensors, tokenizer.json
                    (default ../shared/models/tiny-llama-hf beside the repository)
  --data DIR        folder with GSM8K's train.jsonl: train on its first --count problems
                    (default: synthetic GSM-style problems)
  --count N         training problems (default 8)
  --steps N         optimizer steps (default 60)
  --batch N         problems per step (default 4)
  --lr X            learning rate (default 1e-2)
  --rank N          LoRA rank r (default 8; alpha is 2r)
  --loss NAME       ce (default), or 0.6 ce + 0.4 NAME on the answer tokens, NAME from:
                    ${LOSS_NAMES.filter((n) => n !== "ce").join(", ")}
  --seed N          seed for data, adapters and batching (default 42)
  --backend NAME    cpu (default) or webgpu
  --out DIR         where the adapters go (default runs/finetune-<timestamp>)
  --help            this text

Exit codes: 0 success, 2 bad input, 1 internal error.`;

const FLAGS = {
  model: { type: "string" },
  data: { type: "string" },
  count: { type: "string" },
  steps: { type: "string" },
  batch: { type: "string" },
  lr: { type: "string" },
  rank: { type: "string" },
  loss: { type: "string" },
  seed: { type: "string" },
  backend: { type: "string" },
  out: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

async function main(): Promise<number> {
  let v;
  try {
    v = parseArgs({ args: Deno.args, options: FLAGS }).values;
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]);
  }
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  const count = parseNumber("count", v.count ?? 8, { int: true, min: 1 });
  const steps = parseNumber("steps", v.steps ?? 60, { int: true, min: 1 });
  const batch = parseNumber("batch", v.batch ?? 4, { int: true, min: 1 });
  const lr = parseNumber("lr", v.lr ?? 1e-2, { int: false, min: 0 });
  const rank = parseNumber("rank", v.rank ?? 8, { int: true, min: 1 });
  const seed = parseNumber("seed", v.seed ?? 42, { int: true, min: 0 });
  const lossName = v.loss ?? "ce";
  if (!(LOSS_NAMES as readonly string[]).includes(lossName)) {
    throw new UsageError(`--loss: unknown loss "${lossName}"; valid: ${LOSS_NAMES.join(", ")}`);
  }
  const backend = v.backend ?? "cpu";
  if (backend !== "cpu" && backend !== "webgpu") {
    throw new UsageError(`--backend: expected cpu or webgpu, got "${backend}"`);
  }
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

  // The frozen base model and LoRA adapters on every attention and MLP projection.
  const pre = await loadPretrained(modelDir);
  const targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
  const lm = lora(pre.model, { rank, alpha: 2 * rank, dropout: 0.05, targets });
  // The pipeline's model: its parameters are only the adapters; the base is captured.
  const model: ModelLike = {
    init: (r) => lm.initAdapters(r),
    apply: (adapters, ids, ctx) => lm.apply({ base: pre.params, adapters } as never, ids, ctx),
  };
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
  await Deno.mkdir(out, { recursive: true });
  await saveLora(`${out}/adapter_model.safetensors`, lm, result.params as ParamTree);
  const config = {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: modelDir,
    r: rank,
    lora_alpha: 2 * rank,
    lora_dropout: 0.05,
    target_modules: targets,
    bias: "none",
  };
  const tmp = `${out}/adapter_config.json.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(config, null, 2) + "\n");
  await Deno.rename(tmp, `${out}/adapter_config.json`);
  console.log(`\nwrote ${out}/adapter_model.safetensors and adapter_config.json`);
  return 0;
}

if (import.meta.main) await runMain(main);

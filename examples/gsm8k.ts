/**
 * The flagship: fine-tune a language model on GSM8K-style math word problems with
 * cross-entropy, and with 0.6 × cross-entropy + 0.4 × each segmentation loss on the answer
 * tokens, then compare exact match (greedy decoding), as in "Beyond Accuracy Optimization:
 * Computer Vision Losses for Large Language Model Fine-Tuning" (EMNLP 2024 Findings).
 *
 *   deno run -A examples/gsm8k.ts            # synthetic problems, a small GPT from scratch
 *   deno run -A examples/gsm8k.ts --data ../shared/data/gsm8k --limit 100
 *   deno run -A examples/gsm8k.ts --model DIR --data DIR   # LoRA on a Hugging Face model
 *
 * Run with --help for every flag.
 * @module
 */
import { choice, commandLine, config, flag, gsm8kFolder, int, isFile, list, num } from "./_cli.ts";
import { numbers, resumedFlags, runMain, section, text, UsageError, writeAtomic } from "./_cli.ts";
import { loraFromFlags, loraTargets, seedList } from "./_cli.ts";
import {
  fastestBackend,
  findAdapter,
  gsm8kData,
  gsm8kSyntheticData,
  isSoftwareAdapter,
  loadPretrained,
  LOSS_NAMES,
  pipeline,
  type PipelineSpec,
  setBackend,
  signalExitCode,
  sweep,
  toMarkdown,
} from "../mod.ts";

// deno-fmt-ignore
const FLAGS = {
  ...section("Data and model", {
    data: text("DIR", "folder with GSM8K train.jsonl and test.jsonl (real GSM8K)"),
    download: flag("fetch GSM8K from github.com/openai/grade-school-math into --cache"),
    cache: text("DIR", "download folder", ".cache/gsm8k"),
    difficulty: choice("D", "synthetic problems: 1, 2, 3 arithmetic steps or mixed",
      { choices: [1, 2, 3, "mixed"], default: 1 }),
    "max-number": int("N", "synthetic problems: every number below N, 10..1000",
      { default: 50, min: 10, max: 1000 }),
    "skip-bad": flag("skip malformed JSONL lines instead of stopping (reported as file:line)"),
    model: text("DIR", `fine-tune a Hugging Face model folder (config.json, model.safetensors,
tokenizer.json) with LoRA r=8, alpha=16, as the paper does`),
    "lora-targets": loraTargets(`with --model: paper (default), attention, or module names
(q_proj,v_proj): paper = the paper's for the model's family (Llama, StableLM:
q/k/v/o_proj, gate/up/down_proj, lm_head; GPT-NeoX: query_key_value; Falcon: every
linear; GPT-2: c_attn, c_proj, c_fc); attention = the attention projections`),
  }),
  ...section("Training", {
    losses: list("LIST", `comma-separated, from: ${LOSS_NAMES.join(", ")}
ce trains alone, every other loss as w1 ce + w2 loss on answer tokens`,
      { choices: LOSS_NAMES, noun: "loss", default: ["ce", "focal", "lovasz", "gdice", "sadice"] }),
    weights: numbers("A,B", "the two weights", { default: [0.6, 0.4], min: 0 }),
    steps: int("N", "optimizer steps per loss (default 700; 150 with --model)", { min: 1 }),
    batch: int("N", "sequences per step", { default: 8, min: 1 }),
    arch: choice("NAME", "from-scratch model: llama (rotary positions, default) or gpt (GPT-2)",
      { choices: ["llama", "gpt"], default: "llama" }),
    dim: int("N", "width of the from-scratch model", { default: 96, min: 4 }),
    layers: int("N", "transformer blocks of the from-scratch model", { default: 2, min: 1 }),
    lr: num("X", "peak learning rate (default 3e-3 from scratch, 1e-3 with --model)", { min: 0 }),
    seed: int("N", "seed for data, init and batching", { default: 42, min: 0 }),
    seeds: seedList(`train every loss once per seed (42,43,44): a seed varies the init,
the batch order and dropout; the data and the held-out problems stay --seed's, so every
seed answers the same problems and the table pairs them (intervals, McNemar per seed)`),
    backend: choice("NAME", "cpu or webgpu (default: webgpu on a GPU, cpu on a CPU-only machine)",
      { choices: ["cpu", "webgpu"] }),
    workers: int("N", `variants trained side by side (default: one per core on the cpu
backend, 1 on webgpu or with --model)`, { min: 1 }),
    config: config("FILE", "JSON object with any of these flags as keys (flags win)"),
  }),
  ...section("Evaluation and output", {
    limit: int("N", "evaluate on the first N held-out problems", { default: 100, min: 1 }),
    out: text("DIR", "output folder (default runs/gsm8k-<timestamp>)"),
    resume: text("DIR", `continue an interrupted run in DIR: finished losses are kept,
unfinished ones continue from their last checkpoint`),
  }),
};

const cli = commandLine({
  title: "examples/gsm8k.ts: cross-entropy versus segmentation losses on GSM8K",
  usage: "deno run -A examples/gsm8k.ts [flags]",
  about: `With no flags it trains a small GPT from scratch on synthetic GSM-style problems (no files
needed) with: ce, and 0.6 ce + 0.4 x {focal, lovasz, gdice, sadice} on the answer tokens;
evaluates exact match by greedy decoding on held-out problems; prints a table and writes
results.json, results.md and curves.svg.`,
  flags: FLAGS,
  footer: `Exit codes: 0 success, 2 bad input, 1 failure (a full disk, a run folder in use);
130 / 143 after SIGINT / SIGTERM, with each loss checkpointed (a second signal stops at once).`,
});

/** The flags; a run keeps them in run.json, and --resume takes them back from there. */
type Options = NonNullable<Awaited<ReturnType<typeof cli.parse>>>;

/** The model: a small transformer from scratch over bytes, or LoRA on a pretrained model. */
async function modelAndData(o: Options, maxLength: number) {
  const { seed, limit: evalCount, difficulty, maxNumber } = o;
  const synthetic = { seed, count: 4000, evalCount, difficulty, maxLength, maxNumber };
  const real = o.data ? gsm8kData({ path: o.data, maxLength, skipBad: o.skipBad }) : undefined;
  if (o.model) {
    // The base is frozen inside the model, so only the adapters are trained and saved.
    const pre = await loadPretrained(o.model);
    const targets = o.loraTargets ?? "paper";
    const lm = loraFromFlags(pre.model, { rank: 8, alpha: 16, dropout: 0.05, targets });
    const model = lm.withBase(pre.params);
    console.log(
      `LoRA r=8, alpha=16 on ${lm.targets.length} projections (${lm.options.targets.join(", ")})`,
    );
    const src = real ?? gsm8kSyntheticData(synthetic);
    return { model, data: { ...src, tokenizer: pre.tokenizer, padSide: "left" as const } };
  }
  if (o.dim % 4) throw new UsageError(`--dim: must be a multiple of 4 (4 heads), got ${o.dim}`);
  const shape = { vocab: 259, context: maxLength, layers: o.layers, dim: o.dim, heads: 4 };
  // Llama-style blocks (rotary positions, RMSNorm, SwiGLU) learn to copy the question's
  // numbers into the formula in far fewer steps than GPT-2's learned positions (measured).
  const hidden = Math.round((8 * o.dim) / 3 / 8) * 8;
  const model: PipelineSpec["model"] = o.arch === "gpt"
    ? { kind: "gpt", options: shape }
    : { kind: "llama", options: { ...shape, kvHeads: 4, hidden, tieEmbeddings: true } };
  return { model, data: real ?? { kind: "gsm8kSynthetic", options: synthetic } };
}

async function main(): Promise<number> {
  const flags = await cli.parse(Deno.args);
  if (!flags) return 0;
  // A resumed run keeps every setting it started with (run.json), whatever else is given.
  const o = await resumedFlags(flags, "gsm8k run folder", ["workers"]);
  o.data = await gsm8kFolder(o);
  if (o.model && !(await isFile(`${o.model}/config.json`))) {
    throw new UsageError(
      `--model ${o.model}: no config.json there (expected a Hugging Face model folder)`,
    );
  }
  if (o.loraTargets !== undefined && !o.model) {
    throw new UsageError(
      "--lora-targets: applies to --model runs only (LoRA on a Hugging Face model)",
    );
  }
  if (o.model && Math.min(o.workers ?? 1, o.losses.length) > 1) {
    throw new UsageError("--workers: a --model run trains in one process; drop --workers");
  }
  // The CPU backend beats a CPU-emulated WebGPU adapter for models this small (measured).
  const backend = o.backend ?? await fastestBackend();
  await setBackend(backend);
  const { model, data } = await modelAndData(o, o.model ? 256 : 128);
  const steps = o.steps ?? (o.model ? 150 : 700);
  const lr = o.lr ?? (o.model ? 1e-3 : 3e-3);

  const out = o.resume ?? o.out ?? `runs/gsm8k-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  await Deno.mkdir(out, { recursive: true });
  const about = {
    date: new Date().toISOString(),
    backend,
    data: o.data ??
      `synthetic (gsm8kSynthetic, difficulty ${o.difficulty}, numbers below ${o.maxNumber})`,
    model: o.model ?? `${o.arch}: ${o.layers} layers, dim ${o.dim}, 4 heads, byte vocabulary`,
    steps,
    batch: o.batch,
    lr,
    seed: o.seed,
    ...(o.seeds ? { seeds: o.seeds } : {}),
    weights: o.weights,
    evalProblems: o.limit,
  };
  if (!o.resume) {
    await writeAtomic(`${out}/run.json`, JSON.stringify({ ...about, options: o }, null, 2) + "\n");
  }
  // On a hardware GPU the first variant times the model's matmuls and saves the table; the
  // others and a resumed run load it, so every variant runs the same kernels.
  const adapter = backend === "webgpu" ? await findAdapter() : undefined;
  const tuneFile = adapter && !isSoftwareAdapter(adapter) ? `${out}/matmul-tuning.json` : undefined;

  const base = pipeline({
    name: "gsm8k",
    model,
    loss: "ce",
    optimizer: { kind: "adamw", options: { lr, weightDecay: 0.01 } },
    schedule: {
      kind: "warmupCosine",
      options: { peak: lr, warmup: Math.min(50, Math.floor(steps / 10)), steps },
    },
    data,
    eval: { kind: "exactMatch", options: { limit: o.limit, maxNewTokens: 32, batchSize: 50 } },
    steps,
    batchSize: o.batch,
    clip: 1,
    seed: o.seeds?.[0] ?? o.seed,
    logEvery: 50,
    // sweep keeps each loss's checkpoints in <out>/<loss>/checkpoints.
    checkpoint: { dir: `${out}/checkpoints`, every: 100, keep: 1 },
  });
  // ce alone, every other loss as w1 ce + w2 X on the answer tokens.
  const [w1, w2] = o.weights;
  const plus = (x: string) => ({
    kind: "combine",
    options: { terms: [["ce", w1], [x, w2, { mask: "answer" }]] },
  });
  const losses = Object.fromEntries(o.losses.map((x) => [x, x === "ce" ? "ce" : plus(x)]));
  const columns = { style: "summary", metrics: ["exactMatch", "iou"] } as const;
  // One seed trains as before (folders named by loss); several add the seed axis.
  const seeds = o.seeds && o.seeds.length > 1 ? o.seeds : undefined;
  const lossLabel = (loss: string) => loss === "ce" ? "ce" : `${w1} ce + ${w2} ${loss}`;
  const result = await sweep(base, { loss: losses, ...(seeds ? { seed: seeds } : {}) }, {
    out,
    folder: (v) => seeds ? `${v.loss}-seed${v.seed}` : v.loss,
    label: (v) => seeds ? `${lossLabel(v.loss)} seed=${v.seed}` : lossLabel(v.loss),
    // Workers get their pipeline as JSON, which a LoRA model (a closure) has none of.
    workers: o.model ? 1 : o.workers ?? "auto",
    resume: Boolean(o.resume),
    tuneMatmul: tuneFile,
    report: {
      title: "GSM8K: training loss and exact match",
      heading: "GSM8K: cross-entropy vs segmentation losses",
      about,
      ...columns,
      files: ["md", "json"],
    },
  });
  if (result.stopped === "interrupted") {
    const by = result.signal ? ` by ${result.signal}` : "";
    console.log(`\ninterrupted${by}: continue with --resume ${out}`);
    return signalExitCode(result.signal ?? "SIGINT");
  }
  console.log(
    `\n${toMarkdown(result, columns)}\nwrote ${out}/results.json, results.md, curves.svg`,
  );
  const failed = result.rows.filter((r) => r.error);
  for (const r of failed) console.error(`${r.label}: ${r.error}`);
  return failed.length ? 1 : 0;
}

if (import.meta.main) await runMain(main);

/**
 * The paper's whole experiment: every task (GSM8K, MathQA, OpenBookQA, HellaSwag) with
 * cross-entropy and with 0.6 × cross-entropy + 0.4 × each segmentation loss on the answer
 * tokens, each task with the paper's own training settings, then one table per task in the
 * paper's shape (exact match or accuracy per loss and its change relative to cross-entropy)
 * and the mean relative improvement across tasks, as in "Beyond Accuracy Optimization:
 * Computer Vision Losses for Large Language Model Fine-Tuning" (EMNLP 2024 Findings).
 *
 *   deno task paper --smoke                  # the whole grid in a minute: a check, not a result
 *   deno task paper --model DIR --data DIR   # LoRA on a Hugging Face model, the real datasets
 *   deno task paper --model DIR --download   # the same, fetching the datasets first
 *
 * Run with --help for every flag.
 * @module
 */
import {
  commandLine,
  config,
  type Flag,
  flag,
  int,
  isFile,
  list,
  num,
  numbers,
  resumedFlags,
  runMain,
  section,
  text,
  UsageError,
  writeAtomic,
} from "./_cli.ts";
import { choice, downloadProgress, loraFromFlags, loraTargets, seedList } from "./_cli.ts";
import { writeSyntheticTasks } from "./_paper_data.ts";
import {
  compareRows,
  type Comparison,
  comparisonMarkdown,
  type DataSource,
  downloadTask,
  evaluate,
  fastestBackend,
  type Json,
  loadCheckpoint,
  loadPretrained,
  loadTask,
  LOSS_NAMES,
  type ModelLike,
  type PartSpec,
  type Pipeline,
  pipeline,
  type PipelineSpec,
  plotCurves,
  type ProblemResults,
  setBackend,
  signalExitCode,
  sweep,
  type SweepRow,
  type SweepTable,
  TASK_NAMES,
  taskCacheDir,
  taskData,
  taskEval,
  type TaskName,
  TASKS,
  type Tokenizer,
  treeDispose,
} from "../mod.ts";

/** The paper's per-task trainer settings (its published configs). */
const PAPER = {
  epochs: { gsm8k: 10, mathqa: 2, openbookqa: 10, hellaswag: 1 },
  lr: { gsm8k: 1e-5, mathqa: 1e-4, openbookqa: 1e-4, hellaswag: 1e-4 },
  batch: { gsm8k: 2, mathqa: 2, openbookqa: 2, hellaswag: 1 },
  accum: { gsm8k: 1, mathqa: 1, openbookqa: 1, hellaswag: 2 },
} as const;

/** What --smoke changes, unless the flag is given. */
const SMOKE = {
  steps: 2,
  trainLimit: 8,
  valLimit: 2,
  limit: 2,
  maxLength: 128,
  maxNewTokens: 12,
  dim: 16,
  layers: 1,
  warmup: 1,
  sizes: { train: 18, validation: 2, test: 2 },
};

/** A from-scratch model learns at rates far above the paper's LoRA ones. */
const SCRATCH_LR = 3e-3;

type PerTask<T> = Partial<Record<TaskName, T>>;

/**
 * A setting given for every task (`--lr 1e-4`) or per task (`--lr gsm8k=1e-5,mathqa=1e-4`),
 * both in one list (`--epochs 2,gsm8k=10`: 10 for GSM8K, 2 for the rest).
 */
function perTask<T>(
  arg: string,
  help: string,
  parse: (name: string, raw: string) => T,
  fallback?: Readonly<Record<TaskName, T>>,
): Flag<PerTask<T>> {
  const shown = fallback && TASK_NAMES.map((t) => `${t}=${fallback[t]}`).join(",");
  return {
    arg,
    help: shown ? `${help}\n(default ${shown})` : help,
    default: shown,
    read: (name, raw) => {
      const out: PerTask<T> = { ...fallback };
      if (raw === undefined) return out;
      for (const item of String(raw).split(",").map((s) => s.trim()).filter(Boolean)) {
        const eq = item.indexOf("=");
        if (eq < 0) {
          const v = parse(name, item);
          for (const t of TASK_NAMES) out[t] = v;
          continue;
        }
        const task = item.slice(0, eq).trim();
        if (!(TASK_NAMES as readonly string[]).includes(task)) {
          throw new UsageError(
            `--${name}: unknown task "${task}"; valid: ${TASK_NAMES.join(", ")}`,
          );
        }
        out[task as TaskName] = parse(name, item.slice(eq + 1).trim());
      }
      return out;
    },
  };
}

const intOf = (min: number) => (name: string, raw: string) => {
  const v = Number(raw);
  if (raw === "" || !Number.isInteger(v)) {
    throw new UsageError(`--${name}: expected an integer, got "${raw}"`);
  }
  if (v < min) throw new UsageError(`--${name}: must be >= ${min}, got ${v}`);
  return v;
};
const numOf = (name: string, raw: string) => {
  const v = Number(raw);
  if (raw === "" || !Number.isFinite(v)) {
    throw new UsageError(`--${name}: expected a number, got "${raw}"`);
  }
  if (v < 0) throw new UsageError(`--${name}: must be >= 0, got ${v}`);
  return v;
};
const pathOf = (_name: string, raw: string) => raw;

// deno-fmt-ignore
const FLAGS = {
  ...section("Data and model", {
    data: perTask("DIR", `the datasets: a folder with one subfolder per task (gsm8k/, mathqa/,
openbookqa/, hellaswag/) holding its original or parquet files, or
task=DIR pairs (gsm8k=data/gsm8k,mathqa=~/MathQA.zip); see docs/tasks.md`, pathOf),
    download: flag("fetch each task without --data from its public home into --cache"),
    cache: text("DIR", "download folder (default ~/.cache/lossforge/<task>: taskCacheDir)"),
    mirror: text("URL", "with --download: fetch the files from URL/<file name> instead"),
    "skip-bad": flag("skip malformed records instead of stopping (reported as file:line)"),
    model: text("DIR", `fine-tune a Hugging Face model folder (config.json, model.safetensors,
tokenizer.json) with LoRA, as the paper does; without it a small model
is trained from scratch on each task (and the run says so)`),
    "lora-targets": loraTargets(`with --model: paper (default: the family's modules in the paper's
code), attention, or module names (q_proj,v_proj)`),
    lora: numbers("R,A,D", "with --model: LoRA rank, alpha and dropout",
      { default: [8, 16, 0.05], min: 0 }),
    smoke: flag(`the whole grid in about a minute: a tiny model, ${SMOKE.steps} steps,
${SMOKE.limit} test problems per task, synthetic records in each task's
format unless --data is given`),
  }),
  ...section("Grid", {
    tasks: list("LIST", `comma-separated, from: ${TASK_NAMES.join(", ")} (default all)`,
      { choices: TASK_NAMES, noun: "task", default: TASK_NAMES }),
    losses: list("LIST", `comma-separated, from: ${LOSS_NAMES.join(", ")}
ce trains alone, every other loss as w1 ce + w2 loss on answer tokens
(default ce,focal,lovasz,gdice,sadice: the paper's)`,
      { choices: LOSS_NAMES, noun: "loss", default: ["ce", "focal", "lovasz", "gdice", "sadice"] }),
    weights: numbers("A,B", "the two weights", { default: [0.6, 0.4], min: 0 }),
    masking: choice("MODE", `exclude (default: ignored positions removed) or paper (the
published code's zeroed rows, and its trainer's window for answer terms)`,
      { choices: ["exclude", "paper"], default: "exclude" }),
  }),
  ...section("Training (a value for every task, or task=value pairs)", {
    epochs: perTask("N", "passes over the training split", intOf(1), PAPER.epochs),
    steps: perTask("N", "optimizer steps instead of epochs (default: epochs)", intOf(1)),
    lr: perTask("X", `peak learning rate (default the paper's with --model: gsm8k=1e-5, others
1e-4; ${SCRATCH_LR} from scratch)`, numOf),
    batch: perTask("N", "sequences per micro-batch", intOf(1), PAPER.batch),
    accum: perTask("N", "micro-batches per optimizer step (gradient accumulation)", intOf(1),
      PAPER.accum),
    "max-length": perTask("N", `tokens per sequence, cut on the left (default the paper's:
gsm8k=128, mathqa=1024, openbookqa=128, hellaswag=256; ${SMOKE.maxLength} with --smoke)`, intOf(8)),
    "train-limit": int("N", `train on the first N training examples of each task (default all;
${SMOKE.trainLimit} with --smoke)`, { min: 1 }),
    warmup: int("N", `linear warm-up steps, then the peak rate (default 500, the paper's;
${SMOKE.warmup} with --smoke)`, { min: 0 }),
    "weight-decay": num("X", "AdamW weight decay", { default: 0.01, min: 0 }),
    clip: num("X", "global gradient-norm clip, 0 for none", { default: 1, min: 0 }),
    seed: int("N", "seed for init, batching and dropout", { default: 42, min: 0 }),
    seeds: seedList(`train every cell once per seed (42,43,44; overrides --seed for
training): the data and test problems stay --seed's, so each task's table compares the losses
per problem (95% intervals over seeds and problems, McNemar p per seed)`),
    dim: int("N", `from-scratch model width (default 96; ${SMOKE.dim} with --smoke)`, { min: 4 }),
    layers: int("N", `from-scratch model blocks (default 2; ${SMOKE.layers} with --smoke)`,
      { min: 1 }),
    backend: choice("NAME", "cpu or webgpu (default: webgpu on a GPU, cpu on a CPU-only machine)",
      { choices: ["cpu", "webgpu"] }),
    workers: int("N", `variants trained side by side (default: one per core on the cpu
backend from scratch, 1 on webgpu or with --model)`, { min: 1 }),
    config: config("FILE", "JSON object with any of these flags as keys (flags win)"),
  }),
  ...section("Evaluation and output", {
    "val-limit": int("N", `validation examples scored during training, by the teacher-forced
argmax (default 100, the paper's; ${SMOKE.valLimit} with --smoke)`, { min: 1 }),
    "eval-every": int("N", "validation every N steps (0: only at the end)",
      { default: 500, min: 0 }),
    limit: int("N", `test examples per task, scored by greedy generation (default all;
${SMOKE.limit} with --smoke)`, { min: 1 }),
    "max-new-tokens": perTask("N", `greedy generation length (default 256 for gsm8k and mathqa,
8 for a letter; ${SMOKE.maxNewTokens} with --smoke)`, intOf(1)),
    "checkpoint-every": int("N", "checkpoint every N steps (and at the end)",
      { default: 500, min: 1 }),
    out: text("DIR", "output folder (default runs/paper-<timestamp>)"),
    resume: text("DIR", `continue an interrupted run in DIR: finished variants and test scores
are kept, unfinished ones continue from their last checkpoint`),
  }),
};

const cli = commandLine({
  title: "examples/paper.ts: the paper's grid of task x loss",
  usage: "deno task paper [flags]   (deno run -A examples/paper.ts)",
  about: `Trains every task of --tasks with every loss of --losses (ce alone, each other loss as
0.6 ce + 0.4 loss on the answer tokens) with the paper's settings: AdamW, weight decay 0.01,
500 warm-up steps, LoRA r 8, alpha 16, dropout 0.05; GSM8K 10 epochs, lr 1e-5, batch 2;
MathQA 2 epochs, lr 1e-4; OpenBookQA 10 epochs, lr 1e-4; HellaSwag 1 epoch, lr 1e-4, batch 1
with gradient accumulation 2. During training it scores the validation split by the argmax of
teacher-forced logits; at the end, the test split by greedy generation. Writes, in --out:
results.md (a table per task and the mean relative improvement), results.json, steps.csv
(the step metrics), <task>/results.md, <task>/curves.svg and each run's folder.`,
  flags: FLAGS,
  footer: `Exit codes: 0 success, 2 bad input, 1 internal error, 130 / 143 after SIGINT / SIGTERM
(each loss checkpointed; continue with --resume; a second signal stops at once).`,
});

/** The flags; a run keeps them in run.json, and --resume takes them back from there. */
type Options = NonNullable<Awaited<ReturnType<typeof cli.parse>>>;

/** What a task's table reports: its main metric and one secondary, both from the test split. */
const METRIC = {
  number: { main: "exactMatch", mainName: "exact match", second: "iou", secondName: "step IoU" },
  letter: { main: "accuracy", mainName: "accuracy", second: "rouge1", secondName: "ROUGE-1" },
} as const;

const LOSS_TITLES: Record<string, string> = {
  ce: "CE",
  focal: "Focal",
  lovasz: "Lovász",
  gdice: "GDice",
  sadice: "SADice",
  dice: "Dice",
  jaccard: "Jaccard",
  tversky: "Tversky",
};

/** One loss of one task, trained and scored. */
interface GridRow {
  loss: string;
  label: string;
  /** The training seed's label ("" without --seeds). */
  seed: string;
  /** Greedy generation on the test split. */
  test: Record<string, number>;
  /** Which test problems were answered right. */
  problems?: ProblemResults;
  /** The teacher-forced argmax on the validation examples, after the last step. */
  validation: Record<string, number>;
  /** (test metric - CE's) / CE's, null for CE itself or where CE scored 0. */
  relativeToCe: number | null;
  finalLoss: number;
  steps: number;
  trainSeconds: number;
  curve: { step: number; loss: number }[];
  error?: string;
}

/** Where each task's files are, and whether they are the synthetic stand-ins. */
interface DataPlan {
  dirs: Record<TaskName, string>;
  synthetic: boolean;
  note: string;
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Each task's data folder: from --data (a folder of task folders, or task=DIR), from
 * --download, or (neither) synthetic records written into the run folder later.
 */
async function planData(o: Options, out: string): Promise<DataPlan> {
  const given = o.data;
  const dirs = {} as Record<TaskName, string>;
  const missing: TaskName[] = [];
  for (const t of o.tasks) {
    const d = given[t];
    if (d === undefined) missing.push(t);
    else dirs[t] = (await isDir(`${d}/${t}`)) ? `${d}/${t}` : d;
  }
  if (missing.length && o.download) {
    for (const t of missing) {
      const dir = o.cache ? `${o.cache}/${t}` : taskCacheDir(t);
      try {
        dirs[t] = await downloadTask(t, dir, {
          onProgress: downloadProgress(),
          ...(o.mirror ? { mirror: o.mirror } : {}),
        });
      } catch (e) {
        throw new UsageError(`--download ${t} failed: ${(e as Error).message}`);
      }
    }
    return { dirs, synthetic: false, note: `downloaded: ${missing.join(", ")}` };
  }
  if (missing.length === o.tasks.length) {
    for (const t of o.tasks) dirs[t] = `${out}/data/${t}`;
    return {
      dirs,
      synthetic: true,
      note: `synthetic records in each task's file format (${out}/data), not the real datasets`,
    };
  }
  if (missing.length) {
    throw new UsageError(
      `--data: no folder for ${missing.join(", ")} (give ${missing[0]}=DIR, --download, or ` +
        `leave it out of --tasks)`,
    );
  }
  return { dirs, synthetic: false, note: "given with --data" };
}

/** Reads each task's splits, so a missing file or a bad record stops the run before it writes. */
async function checkData(o: Options, plan: DataPlan): Promise<void> {
  for (const t of o.tasks) {
    for (const split of ["train", "validation", "test"] as const) {
      try {
        const d = await loadTask(t, { path: plan.dirs[t], split, skipBad: o.skipBad });
        if (d.skipped) console.error(`${t}: skipped ${d.skipped} bad record(s): ${d.problems[0]}`);
        if (d.dropped && split === "train") {
          console.error(`${t} ${split}: dropped ${d.dropped} record(s) (${d.drops[0]})`);
        }
      } catch (e) {
        const hint = o.skipBad ? "" : " (pass --skip-bad to skip bad records)";
        throw new UsageError(`${t}: ${(e as Error).message.split("\n")[0]}${hint}`);
      }
    }
  }
}

/** A task's settings after the paper's defaults, --smoke's, and the flags. */
function settingsOf(o: Options, task: TaskName, fromScratch: boolean) {
  const smoke = o.smoke;
  const steps = o.steps[task] ?? (smoke ? SMOKE.steps : undefined);
  return {
    epochs: steps === undefined ? o.epochs[task] ?? PAPER.epochs[task] : undefined,
    steps,
    lr: o.lr[task] ?? (fromScratch ? SCRATCH_LR : PAPER.lr[task]),
    batch: o.batch[task] ?? PAPER.batch[task],
    accum: o.accum[task] ?? PAPER.accum[task],
    maxLength: o.maxLength[task] ?? (smoke ? SMOKE.maxLength : TASKS[task].maxLength),
    maxNewTokens: o.maxNewTokens[task] ?? (smoke ? SMOKE.maxNewTokens : undefined),
    warmup: o.warmup ?? (smoke ? SMOKE.warmup : 500),
  };
}

/** The pretrained base, loaded once and shared by every task's LoRA model. */
interface Pretrained {
  model: ModelLike;
  tokenizer: Tokenizer;
  about: string;
}

async function pretrainedModel(o: Options): Promise<Pretrained | undefined> {
  if (!o.model) return undefined;
  const pre = await loadPretrained(o.model);
  const [rank, alpha, dropout] = o.lora;
  const targets = o.loraTargets ?? "paper";
  const lm = loraFromFlags(pre.model, { rank, alpha, dropout, targets });
  const about = `${o.model}, LoRA r=${rank}, alpha=${alpha}, dropout=${dropout} on ` +
    `${lm.targets.length} projections (${lm.options.targets.join(", ")})`;
  // The base is frozen inside the model, so only the adapters are trained and checkpointed.
  return { model: lm.withBase(pre.params), tokenizer: pre.tokenizer, about };
}

function scratchModel(o: Options, context: number): PartSpec {
  const dim = o.dim ?? (o.smoke ? SMOKE.dim : 96);
  const layers = o.layers ?? (o.smoke ? SMOKE.layers : 2);
  if (dim % 4) throw new UsageError(`--dim: must be a multiple of 4 (4 heads), got ${dim}`);
  const hidden = Math.max(8, Math.round((8 * dim) / 3 / 8) * 8);
  return {
    kind: "llama",
    options: {
      vocab: 259,
      context,
      layers,
      dim,
      heads: 4,
      kvHeads: 4,
      hidden,
      tieEmbeddings: true,
    },
  };
}

/** The data source of a task: byte tokens from scratch, the model's tokenizer with --model. */
function dataOf(
  o: Options,
  task: TaskName,
  dir: string,
  evalSplit: "validation" | "test",
  maxLength: number,
  pre?: Pretrained,
): DataSource {
  const trainLimit = o.trainLimit ?? (o.smoke ? SMOKE.trainLimit : undefined);
  const src = taskData({
    task,
    path: dir,
    evalSplit,
    maxLength,
    skipBad: o.skipBad,
    ...(trainLimit !== undefined ? { trainLimit } : {}),
  });
  // The paper pads on the left, with the model's own tokenizer.
  return pre ? { ...src, tokenizer: pre.tokenizer, padSide: "left" } : src;
}

/** `ce`, or `w1 ce + w2 loss` on the answer tokens, with the chosen masking. */
function lossSpec(o: Options, loss: string): PartSpec | string {
  const [w1, w2] = o.weights;
  // "exclude" is every loss's default; "paper" goes to each term and to combine (its window).
  const term = (kind: string): { [key: string]: Json } =>
    o.masking === "paper" ? { kind, options: { masking: "paper" } } : { kind };
  if (loss === "ce") {
    return o.masking === "paper" ? { kind: "ce", options: { masking: "paper" } } : "ce";
  }
  return {
    kind: "combine",
    options: {
      terms: [[term("ce"), w1], [term(loss), w2, { mask: "answer" }]],
      ...(o.masking === "paper" ? { masking: "paper" } : {}),
    },
  };
}

function lossLabel(o: Options, loss: string): string {
  const [w1, w2] = o.weights;
  return loss === "ce" ? "CE" : `${w1} CE + ${w2} ${LOSS_TITLES[loss] ?? loss}`;
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** Greedy test metrics of a finished variant (kept in test.json, so --resume reuses them). */
async function testMetrics(
  dir: string,
  testRun: Pipeline,
): Promise<{ metrics: Record<string, number>; problems?: ProblemResults }> {
  const file = `${dir}/test.json`;
  const kept = await readJson<{ metrics: Record<string, number>; problems?: ProblemResults }>(
    file,
  );
  if (kept) return kept;
  const ckpt = await loadCheckpoint(`${dir}/checkpoints`);
  try {
    let problems: ProblemResults | undefined;
    const metrics = await evaluate(testRun, ckpt.params, { onProblems: (r) => problems = r });
    const about = {
      split: "test",
      decode: "greedy generation",
      checkpoint: ckpt.path,
      metrics,
      ...(problems ? { problems } : {}),
    };
    await writeAtomic(file, JSON.stringify(about, null, 2) + "\n");
    return { metrics, ...(problems ? { problems } : {}) };
  } finally {
    treeDispose(ckpt.params);
    treeDispose(ckpt.optState);
  }
}

/**
 * The test results as a comparison (`compareRows`): the sweep's rows with their test metrics
 * and per-problem results in place of the validation ones; undefined when none has problems.
 */
function testComparison(
  table: SweepTable,
  rows: readonly GridRow[],
  metric: string,
): Comparison | undefined {
  if (!rows.some((r) => r.problems)) return undefined;
  const tested = table.rows.map((r, i) => ({
    ...r,
    metrics: rows[i].test,
    ...(rows[i].problems ? { problems: rows[i].problems } : { problems: undefined }),
  }));
  return compareRows({ ...table, rows: tested }, { metric });
}

/** One line per logged step of every variant: the step metrics, validation ones labelled. */
async function stepLines(task: TaskName, loss: string, dir: string): Promise<string[][]> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/events.jsonl`);
  } catch {
    return [];
  }
  const byStep = new Map<number, Record<string, unknown>>();
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line);
      if (typeof e.step === "number") byStep.set(e.step, e);
    } catch {
      // A line cut by a crash is not a step.
    }
  }
  const cell = (x: unknown) => typeof x === "number" ? String(x) : x === undefined ? "" : String(x);
  return [...byStep.values()].map((e) => {
    const ev = (e.eval ?? {}) as Record<string, number>;
    return [
      task,
      loss,
      cell(e.step),
      cell(e.totalSteps),
      cell(e.epoch),
      cell(e.loss),
      cell(e.lr),
      cell(e.gradNorm),
      ...STEP_EVAL.map((k) => cell(ev[k])),
    ];
  });
}

/** The validation metrics steps.csv has columns for (teacher-forced argmax). */
const STEP_EVAL = ["exactMatch", "iou", "accuracy", "rouge1"];

const pct = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x)
    ? "n/a"
    : `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}%`;
const share = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? "n/a" : `${(100 * x).toFixed(1)}%`;
const fixed = (x: number | undefined, d = 3) =>
  x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(d);

/** A task's table in the paper's shape, as Markdown. */
function taskTable(task: TaskName, rows: readonly GridRow[]): string {
  const m = METRIC[TASKS[task].answerKind];
  const head = [
    "loss",
    `${m.mainName} (test, greedy)`,
    "vs CE",
    `${m.secondName} (test)`,
    `${m.mainName} (validation, teacher-forced)`,
    "final train loss",
    "steps",
  ];
  const lines = rows.map((r) =>
    r.error ? [r.label, "failed", "", "", "", fixed(r.finalLoss), String(r.steps)] : [
      r.label,
      share(r.test[m.main]),
      r.loss === "ce" ? "" : pct(r.relativeToCe),
      fixed(r.test[m.second]),
      share(r.validation[m.main]),
      fixed(r.finalLoss),
      String(r.steps),
    ]
  );
  const count = rows.find((r) => !r.error)?.test.count;
  const esc = (s: string) => s.replaceAll("|", "\\|");
  return [
    `## ${TASKS[task].title}: ${m.mainName}` +
    (count === undefined ? "" : ` on ${count} test examples`),
    "",
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
    ...lines.map((l) => `| ${l.map(esc).join(" | ")} |`),
    ...rows.filter((r) => r.error).map((r) => `\n${r.label} failed: ${r.error}`),
    "",
  ].join("\n");
}

/** Each non-CE loss's relative change per task and its mean; the best loss per task. */
function relativeSummary(tasks: readonly TaskName[], grid: Record<string, GridRow[]>) {
  const losses = [...new Set(tasks.flatMap((t) => grid[t].map((r) => r.loss)))]
    .filter((l) => l !== "ce");
  const perLoss: Record<string, Record<string, number | null>> = {};
  for (const l of losses) {
    const changes: Record<string, number | null> = {};
    for (const t of tasks) changes[t] = grid[t].find((r) => r.loss === l)?.relativeToCe ?? null;
    perLoss[l] = { ...changes, mean: mean(Object.values(changes)) };
  }
  const best: Record<string, { loss: string; change: number } | null> = {};
  for (const t of tasks) {
    const scored = grid[t].filter((r) => r.loss !== "ce" && r.relativeToCe !== null);
    const top = scored.toSorted((a, b) => b.relativeToCe! - a.relativeToCe!)[0];
    best[t] = top ? { loss: top.loss, change: top.relativeToCe! } : null;
  }
  const meanBest = mean(Object.values(best).map((b) => b?.change ?? null));
  return { perLoss, best, meanBest };
}

function mean(xs: readonly (number | null)[]): number | null {
  const ok = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : null;
}

function summaryTable(
  o: Options,
  tasks: readonly TaskName[],
  s: ReturnType<typeof relativeSummary>,
): string {
  const head = ["loss", ...tasks.map((t) => TASKS[t].title), "mean"];
  const rows = Object.entries(s.perLoss).map(([l, c]) => [
    lossLabel(o, l),
    ...tasks.map((t) => pct(c[t])),
    pct(c.mean),
  ]);
  const best = tasks.map((t) => {
    const b = s.best[t];
    return `${TASKS[t].title} ${b ? `${pct(b.change)} (${LOSS_TITLES[b.loss] ?? b.loss})` : "n/a"}`;
  });
  return [
    "## Relative change of the test metric against CE",
    "",
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
    `Mean relative improvement across tasks, the best loss of each task: ${pct(s.meanBest)} ` +
    `(the paper reports +36%). Best per task: ${best.join("; ")}.`,
    "",
  ].join("\n");
}

async function main(): Promise<number> {
  const flags = await cli.parse(Deno.args);
  if (!flags) return 0;
  // A resumed run keeps every setting it started with (run.json), whatever else is given.
  const o = await resumedFlags(flags, "paper run folder", ["workers"]);
  // A task named twice would train into the same folders twice.
  o.tasks = [...new Set(o.tasks)];
  if (o.model && !(await isFile(`${o.model}/config.json`))) {
    throw new UsageError(
      `--model ${o.model}: no config.json there (expected a Hugging Face model folder)`,
    );
  }
  if (o.loraTargets !== undefined && !o.model) {
    throw new UsageError("--lora-targets: applies to --model runs only (LoRA on a model)");
  }
  if (o.mirror && !o.download) throw new UsageError("--mirror: applies with --download only");
  if (o.model && Math.min(o.workers ?? 1, o.losses.length) > 1) {
    throw new UsageError("--workers: a --model run trains in one process; drop --workers");
  }
  const out = o.resume ?? o.out ?? `runs/paper-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  const plan = await planData(o, out);
  if (!plan.synthetic) await checkData(o, plan);
  const started = performance.now();
  const backend = o.backend ?? await fastestBackend();
  await setBackend(backend);
  const pre = await pretrainedModel(o);
  const scratch = pre ? undefined : scratchModel(o, 8).options!;
  const modelText = pre?.about ?? `trained from scratch on each task (no --model): llama, ` +
      `${scratch!.layers} layer(s), dim ${scratch!.dim}, byte tokens; lr ${SCRATCH_LR} unless --lr`;

  await Deno.mkdir(out, { recursive: true });
  if (plan.synthetic && !o.resume) {
    const sizes = o.smoke ? SMOKE.sizes : { train: 1800, validation: 200, test: 200 };
    await writeSyntheticTasks(`${out}/data`, o.tasks, sizes, o.seed);
  }
  const settings = Object.fromEntries(o.tasks.map((t) => [t, settingsOf(o, t, !pre)]));
  const valLimit = o.valLimit ?? (o.smoke ? SMOKE.valLimit : 100);
  const testLimit = o.limit ?? (o.smoke ? SMOKE.limit : undefined);
  const about = {
    date: new Date().toISOString(),
    backend,
    model: modelText,
    data: plan.note,
    smoke: o.smoke,
    losses: o.losses,
    weights: o.weights,
    masking: o.masking,
    optimizer: `AdamW, weight decay ${o.weightDecay}, ${
      settings[o.tasks[0]].warmup
    } warm-up steps then the peak rate, clip ${o.clip || "none"}`,
    seed: o.seed,
    validation: `teacher-forced argmax (one forward pass) on at most ${valLimit} validation ` +
      `examples, ${o.evalEvery ? `every ${o.evalEvery} steps and ` : ""}at the end`,
    test: `greedy generation on ${testLimit ?? "all"} test examples per task`,
    settings,
  };
  if (!o.resume) {
    await writeAtomic(`${out}/run.json`, JSON.stringify({ ...about, options: o }, null, 2) + "\n");
  }
  if (!pre) console.log(`No --model: ${about.model}.`);
  if (plan.synthetic) console.log(`No --data: ${plan.note}.`);
  if (o.smoke) console.log("--smoke: a check that the grid runs end to end, not a result.");

  const grid: Record<string, GridRow[]> = {};
  const comparisons: Record<string, Comparison | undefined> = {};
  const steps: string[][] = [];
  for (const task of o.tasks) {
    const s = settings[task];
    const data = dataOf(o, task, plan.dirs[task], "validation", s.maxLength, pre);
    const testData = dataOf(o, task, plan.dirs[task], "test", s.maxLength, pre);
    const model: PipelineSpec["model"] = pre?.model ?? scratchModel(o, s.maxLength);
    const base = pipeline({
      name: task,
      model,
      loss: "ce",
      optimizer: { kind: "adamw", options: { lr: s.lr, weightDecay: o.weightDecay } },
      schedule: { kind: "linearWarmup", options: { peak: s.lr, warmup: s.warmup } },
      data,
      eval: taskEval({ task, decode: "teacherForced", limit: valLimit }),
      ...(s.steps !== undefined ? { steps: s.steps } : { epochs: s.epochs }),
      batchSize: s.batch,
      gradAccum: s.accum,
      ...(o.clip > 0 ? { clip: o.clip } : {}),
      seed: o.seeds?.[0] ?? o.seed,
      logEvery: 25,
      evalEvery: o.evalEvery,
      checkpoint: { dir: "checkpoints", every: o.checkpointEvery, keep: 1 },
    });
    const losses = Object.fromEntries(o.losses.map((l) => [l, lossSpec(o, l)]));
    console.log(`\n${TASKS[task].title}: ${o.losses.length} loss(es), ${JSON.stringify(s)}`);
    // Several seeds add the seed axis; one trains as before, in folders named by loss.
    const seeds = o.seeds && o.seeds.length > 1 ? o.seeds : undefined;
    const table = await sweep(base, { loss: losses, ...(seeds ? { seed: seeds } : {}) }, {
      out: `${out}/${task}`,
      folder: (v) => seeds ? `${v.loss}-seed${v.seed}` : v.loss,
      label: (v) => lossLabel(o, v.loss) + (seeds ? ` seed=${v.seed}` : ""),
      // Workers get their pipeline as JSON, which a LoRA model (a closure) has none of.
      workers: pre ? 1 : o.workers ?? "auto",
      resume: Boolean(o.resume),
      report: false,
    });
    if (table.stopped === "interrupted") {
      const by = table.signal ? ` by ${table.signal}` : "";
      console.log(`\ninterrupted${by}: continue with --resume ${out}`);
      return signalExitCode(table.signal ?? "SIGINT");
    }
    const testEval = taskEval({
      task,
      decode: "greedy",
      ...(testLimit !== undefined ? { limit: testLimit } : {}),
      ...(s.maxNewTokens !== undefined ? { maxNewTokens: s.maxNewTokens } : {}),
    });
    const testRun = pipeline({ ...base, data: testData, eval: testEval });
    const rows: GridRow[] = [];
    for (const r of table.rows as SweepRow[]) {
      const loss = r.variant.loss, seed = r.variant.seed ?? "";
      const dir = `${out}/${task}/${seed ? `${loss}-seed${seed}` : loss}`;
      const tested = r.error ? { metrics: {} } : await testMetrics(dir, testRun);
      rows.push({
        loss,
        label: r.label,
        seed,
        test: tested.metrics,
        ...(tested.problems ? { problems: tested.problems } : {}),
        validation: r.metrics,
        relativeToCe: null,
        finalLoss: r.loss,
        steps: r.steps,
        trainSeconds: r.trainSeconds,
        curve: r.curve,
        ...(r.error ? { error: r.error } : {}),
      });
      steps.push(...await stepLines(task, seed ? `${loss} seed=${seed}` : loss, dir));
    }
    const main = METRIC[TASKS[task].answerKind].main;
    for (const r of rows) {
      // Against CE under the same seed.
      const ce = rows.find((c) => c.loss === "ce" && c.seed === r.seed && !c.error)?.test[main];
      const x = r.test[main];
      if (r.loss !== "ce" && ce !== undefined && ce > 0 && x !== undefined) {
        r.relativeToCe = (x - ce) / ce;
      }
    }
    grid[task] = rows;
    comparisons[task] = testComparison(table, rows, main);
    await writeAtomic(
      `${out}/${task}/results.md`,
      taskTable(task, rows) +
        (comparisons[task] ? `\n${comparisonMarkdown(comparisons[task]!)}` : ""),
    );
    await plotCurves(
      rows.map((r) => ({ label: r.label, curve: r.curve, metrics: r.test })),
      `${out}/${task}/curves.svg`,
      {
        title: `${TASKS[task].title}: training loss, and test ${
          METRIC[TASKS[task].answerKind].mainName
        } (greedy)`,
        metric: main,
      },
    );
  }

  const summary = relativeSummary(o.tasks, grid);
  const headline = `# The paper's grid: ${o.tasks.map((t) => TASKS[t].title).join(", ")}`;
  const aboutLines = Object.entries(about).filter(([k]) => k !== "settings").map(([k, v]) =>
    `- ${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`
  );
  const settingsLines = o.tasks.map((t) => `- ${t}: ${JSON.stringify(settings[t])}`);
  const md = [
    headline,
    "",
    ...aboutLines,
    ...settingsLines,
    "",
    ...o.tasks.map((t) =>
      taskTable(t, grid[t]) +
      (comparisons[t] ? `\n${comparisonMarkdown(comparisons[t]!)}` : "")
    ),
    summaryTable(o, o.tasks, summary),
  ].join("\n");
  await writeAtomic(`${out}/results.md`, md);
  const tasksJson = Object.fromEntries(o.tasks.map((t) => [t, {
    title: TASKS[t].title,
    metric: METRIC[TASKS[t].answerKind].main,
    rows: grid[t],
    ...(comparisons[t] ? { comparison: comparisons[t] } : {}),
  }]));
  await writeAtomic(
    `${out}/results.json`,
    JSON.stringify(
      {
        ...about,
        metrics: {
          test: "greedy generation on the test split (the reported numbers)",
          validation: "teacher-forced argmax on the validation split, after the last step",
        },
        tasks: tasksJson,
        relativeToCe: summary,
      },
      null,
      2,
    ) + "\n",
  );
  const stepHead = [
    "task",
    "loss",
    "step",
    "total_steps",
    "epoch",
    "train_loss",
    "lr",
    "grad_norm",
    ...STEP_EVAL.map((k) => `val_tf_${k}`),
  ];
  await writeAtomic(
    `${out}/steps.csv`,
    [stepHead, ...steps].map((l) => l.join(",")).join("\n") + "\n",
  );
  console.log(`\n${o.tasks.map((t) => taskTable(t, grid[t])).join("\n")}`);
  console.log(summaryTable(o, o.tasks, summary));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `wrote ${out}/results.md, results.json, steps.csv and ${o.tasks.length} task folder(s) ` +
      `(results.md, curves.svg) in ${seconds} s`,
  );
  const failed = o.tasks.flatMap((t) => grid[t].filter((r) => r.error));
  for (const r of failed) console.error(`${r.label}: ${r.error}`);
  return failed.length ? 1 : 0;
}

if (import.meta.main) await runMain(main);

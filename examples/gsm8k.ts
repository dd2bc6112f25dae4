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
import { isFile, parseNumber, runMain, UsageError, writeAtomic } from "./_cli.ts";
import { parseArgs } from "node:util";
import {
  type BackendName,
  type DataSource,
  downloadGsm8k,
  fastestBackend,
  findAdapter,
  gsm8kData,
  isSoftwareAdapter,
  loadPretrained,
  lora,
  LOSS_NAMES,
  type ModelLike,
  type Pipeline,
  pipeline,
  type PipelineSpec,
  plotCurves,
  readGsm8kJsonl,
  resume,
  setBackend,
  syntheticData,
  toJSON,
  train,
} from "../mod.ts";
import { summarize, type VariantResult } from "./gsm8k_variant.ts";
import type { VariantJob, VariantMessage } from "./gsm8k_worker.ts";

const HELP = `examples/gsm8k.ts: cross-entropy versus segmentation losses on GSM8K

Usage: deno run -A examples/gsm8k.ts [flags]

With no flags it trains a small GPT from scratch on synthetic GSM-style problems (no files
needed) with: ce, and 0.6 ce + 0.4 x {focal, lovasz, gdice, sadice} on the answer tokens;
evaluates exact match by greedy decoding on held-out problems; prints a table and writes
results.json, results.md and curves.svg.

Data and model
  --data DIR        folder with GSM8K train.jsonl and test.jsonl (real GSM8K)
  --download        fetch GSM8K from github.com/openai/grade-school-math into --cache
  --cache DIR       download folder (default .cache/gsm8k)
  --difficulty D    synthetic problems: 1, 2, 3 arithmetic steps or mixed (default 1)
  --max-number N    synthetic problems: every number below N, 10..1000 (default 50)
  --skip-bad        skip malformed JSONL lines instead of stopping (reported as file:line)
  --model DIR       fine-tune a Hugging Face model folder (config.json, model.safetensors,
                    tokenizer.json) with LoRA r=8, alpha=16, as the paper does
Training
  --losses LIST     comma-separated, from: ${
  LOSS_NAMES.join(", ")
} (default ce,focal,lovasz,gdice,sadice);
                    ce trains alone, every other loss as w1 ce + w2 loss on answer tokens
  --weights A,B     the two weights (default 0.6,0.4)
  --steps N         optimizer steps per loss (default 700; 150 with --model)
  --batch N         sequences per step (default 8)
  --arch NAME       from-scratch model: llama (rotary positions, default) or gpt (GPT-2)
  --dim N           width of the from-scratch model (default 96)
  --layers N        transformer blocks of the from-scratch model (default 2)
  --lr X            peak learning rate (default 3e-3 from scratch, 1e-3 with --model)
  --seed N          seed for data, init and batching (default 42)
  --backend NAME    cpu or webgpu (default: webgpu on a GPU, cpu on a CPU-only machine)
  --workers N       variants trained side by side (default: one per core on the cpu
                    backend, 1 on webgpu or with --model)
  --config FILE     JSON object with any of these flags as keys (flags win)
Evaluation and output
  --limit N         evaluate on the first N held-out problems (default 100)
  --out DIR         output folder (default runs/gsm8k-<timestamp>)
  --resume DIR      continue an interrupted run in DIR: finished losses are kept,
                    unfinished ones continue from their last checkpoint
  --help            this text

Exit codes: 0 success, 2 bad input, 1 internal error.
`;

interface Options {
  data?: string;
  download: boolean;
  cache: string;
  skipBad: boolean;
  difficulty: 1 | 2 | 3 | "mixed";
  maxNumber: number;
  model?: string;
  losses: string[];
  weights: [number, number];
  steps?: number;
  batch: number;
  dim: number;
  arch: "llama" | "gpt";
  layers: number;
  lr?: number;
  seed: number;
  backend?: BackendName;
  workers?: number;
  limit: number;
  out?: string;
  resume?: string;
}

const FLAGS = {
  data: { type: "string" },
  download: { type: "boolean" },
  cache: { type: "string" },
  "skip-bad": { type: "boolean" },
  difficulty: { type: "string" },
  "max-number": { type: "string" },
  model: { type: "string" },
  losses: { type: "string" },
  weights: { type: "string" },
  steps: { type: "string" },
  batch: { type: "string" },
  dim: { type: "string" },
  arch: { type: "string" },
  layers: { type: "string" },
  lr: { type: "string" },
  seed: { type: "string" },
  backend: { type: "string" },
  workers: { type: "string" },
  config: { type: "string" },
  limit: { type: "string" },
  out: { type: "string" },
  resume: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

async function parseOptions(argv: string[]): Promise<Options | "help"> {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false })
      .values;
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]);
  }
  if (values.help) return "help";
  if (typeof values.config === "string") {
    let cfg: Record<string, unknown>;
    try {
      cfg = JSON.parse(await Deno.readTextFile(values.config));
    } catch (e) {
      throw new UsageError(`--config ${values.config}: ${(e as Error).message}`);
    }
    if (!cfg || typeof cfg !== "object" || Array.isArray(cfg)) {
      throw new UsageError(`--config ${values.config}: expected a JSON object`);
    }
    for (const [k, v] of Object.entries(cfg)) {
      if (!(k in FLAGS) || k === "config") {
        throw new UsageError(`--config ${values.config}: unknown key "${k}"`);
      }
      if (values[k] === undefined) values[k] = Array.isArray(v) ? v.join(",") : v;
    }
  }
  const losses = String(values.losses ?? "ce,focal,lovasz,gdice,sadice").split(",").map((s) =>
    s.trim()
  ).filter(Boolean);
  for (const l of losses) {
    if (!(LOSS_NAMES as readonly string[]).includes(l)) {
      throw new UsageError(`--losses: unknown loss "${l}"; valid: ${LOSS_NAMES.join(", ")}`);
    }
  }
  if (losses.length === 0) throw new UsageError("--losses: name at least one loss");
  const w = String(values.weights ?? "0.6,0.4").split(",");
  if (w.length !== 2) {
    throw new UsageError(`--weights: expected two numbers like 0.6,0.4, got "${values.weights}"`);
  }
  const backend = values.backend as string | undefined;
  if (backend !== undefined && backend !== "cpu" && backend !== "webgpu") {
    throw new UsageError(`--backend: expected cpu or webgpu, got "${backend}"`);
  }
  return {
    data: values.data as string | undefined,
    download: Boolean(values.download),
    cache: (values.cache as string | undefined) ?? ".cache/gsm8k",
    skipBad: Boolean(values["skip-bad"]),
    difficulty: parseDifficulty(values.difficulty),
    maxNumber: parseNumber("max-number", values["max-number"] ?? 50, {
      int: true,
      min: 10,
      max: 1000,
    }),
    model: values.model as string | undefined,
    losses,
    weights: [parseNumber("weights", w[0], { min: 0 }), parseNumber("weights", w[1], { min: 0 })],
    steps: values.steps === undefined
      ? undefined
      : parseNumber("steps", values.steps, { int: true, min: 1 }),
    batch: parseNumber("batch", values.batch ?? 8, { int: true, min: 1 }),
    dim: parseNumber("dim", values.dim ?? 96, { int: true, min: 4 }),
    arch: parseArch(values.arch),
    layers: parseNumber("layers", values.layers ?? 2, { int: true, min: 1 }),
    lr: values.lr === undefined ? undefined : parseNumber("lr", values.lr, { min: 0 }),
    seed: parseNumber("seed", values.seed ?? 42, { int: true, min: 0 }),
    backend: backend as BackendName | undefined,
    workers: values.workers === undefined
      ? undefined
      : parseNumber("workers", values.workers, { int: true, min: 1 }),
    limit: parseNumber("limit", values.limit ?? 100, { int: true, min: 1 }),
    out: values.out as string | undefined,
    resume: values.resume as string | undefined,
  };
}

function parseArch(raw: unknown): "llama" | "gpt" {
  if (raw === undefined || raw === "llama") return "llama";
  if (raw === "gpt") return "gpt";
  throw new UsageError(`--arch: expected llama or gpt, got "${raw}"`);
}

function parseDifficulty(raw: unknown): 1 | 2 | 3 | "mixed" {
  if (raw === undefined) return 1;
  const v = String(raw);
  if (v === "mixed") return v;
  if (v === "1" || v === "2" || v === "3") return Number(v) as 1 | 2 | 3;
  throw new UsageError(`--difficulty: expected 1, 2, 3 or mixed, got "${v}"`);
}

/** Checks the data folder before anything is written, so bad data leaves no half-made run. */
async function checkData(dir: string, skipBad: boolean): Promise<void> {
  for (const f of ["train.jsonl", "test.jsonl"]) {
    if (!(await isFile(`${dir}/${f}`))) {
      throw new UsageError(
        `--data ${dir}: ${f} not found (give a folder holding GSM8K's train.jsonl and test.jsonl, or use --download)`,
      );
    }
    try {
      const file = await readGsm8kJsonl(`${dir}/${f}`, { skipBad });
      if (file.skipped) console.error(`skipped ${file.skipped} bad line(s): ${file.problems[0]}`);
    } catch (e) {
      throw new UsageError(`${(e as Error).message} (pass --skip-bad to skip bad lines)`);
    }
  }
}

/** The loss spec of one comparison row: ce alone, or w1 ce + w2 X on answer tokens. */
function lossSpec(name: string, [w1, w2]: [number, number]): PipelineSpec["loss"] {
  if (name === "ce") return "ce";
  return { kind: "combine", options: { terms: [["ce", w1], [name, w2, { mask: "answer" }]] } };
}

function labelOf(name: string, [w1, w2]: [number, number]): string {
  return name === "ce" ? "ce" : `${w1} ce + ${w2} ${name}`;
}

interface Row {
  loss: string;
  label: string;
  exactMatch: number;
  iou: number;
  finalLoss: number;
  steps: number;
  trainSeconds: number;
  tokensPerSecond: number;
  curve: { step: number; loss: number }[];
}

function table(rows: Row[]): string {
  const lines = [
    "| loss | exact match | step IoU | final train loss | train time | tokens/s |",
    "|---|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.label} | ${(100 * r.exactMatch).toFixed(1)}% | ${r.iou.toFixed(3)} | ${
        r.finalLoss.toFixed(3)
      } | ${r.trainSeconds.toFixed(0)} s | ${r.tokensPerSecond.toFixed(0)} |`,
    );
  }
  return lines.join("\n");
}

async function writeResults(
  out: string,
  rows: Row[],
  meta: Record<string, unknown>,
): Promise<void> {
  await writeAtomic(`${out}/results.json`, JSON.stringify({ ...meta, rows }, null, 2) + "\n");
  const md = `# GSM8K: cross-entropy vs segmentation losses\n\n${
    Object.entries(meta).map(([k, v]) => `- ${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`)
      .join("\n")
  }\n\n${table(rows)}\n`;
  await writeAtomic(`${out}/results.md`, md);
  await plotCurves(
    rows.map((r) => ({ label: r.label, curve: r.curve, metrics: { exactMatch: r.exactMatch } })),
    `${out}/curves.svg`,
    { title: "GSM8K: training loss and exact match", metric: "exactMatch" },
  );
}

interface Job {
  name: string;
  label: string;
  p: Pipeline;
  dir: string;
}

function cores(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

async function hasCheckpoint(dir: string): Promise<boolean> {
  try {
    for await (const e of Deno.readDir(dir)) if (e.isDirectory) return true;
  } catch {
    // no folder yet
  }
  return false;
}

/**
 * On a hardware GPU: the run's matmul tuning table (the first variant times the model's
 * products after its first step and saves it; the others and a resumed run load it, so every
 * variant runs the same kernels).
 */
let tuneFile: string | undefined;

async function runHere(job: Job, hasCkpt: boolean, signal: AbortSignal): Promise<VariantResult> {
  console.log(`\n== ${job.label} ==`);
  const opts = { out: job.dir, signal, tuneMatmul: tuneFile };
  const r = hasCkpt
    ? await resume(`${job.dir}/checkpoints`, { ...opts, pipeline: job.p })
    : await train(job.p, opts);
  return summarize(r);
}

function runInWorker(
  job: Job,
  hasCkpt: boolean,
  backend: BackendName,
  signal: AbortSignal,
): Promise<VariantResult> {
  const worker = new Worker(new URL("./gsm8k_worker.ts", import.meta.url), { type: "module" });
  const onAbort = () => worker.postMessage({ type: "stop" });
  signal.addEventListener("abort", onAbort);
  return new Promise<VariantResult>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<VariantMessage>) => {
      const m = e.data;
      if (m.type === "event") {
        const ev = m.event;
        const evalText = ev.eval
          ? `  exact match ${(100 * (ev.eval.exactMatch ?? 0)).toFixed(1)}%`
          : "";
        console.log(
          `${job.label.padEnd(24)} step ${ev.step}/${ev.totalSteps}  loss ${ev.loss.toFixed(4)}  ` +
            `${ev.tokensPerSecond.toFixed(0)} tok/s${evalText}`,
        );
        return;
      }
      signal.removeEventListener("abort", onAbort);
      worker.terminate();
      if (m.type === "done") resolve(m.result);
      else reject(new Error(`${job.label}: ${m.message}`));
    };
    worker.onerror = (e) => {
      e.preventDefault();
      signal.removeEventListener("abort", onAbort);
      worker.terminate();
      reject(new Error(`${job.label}: ${e.message}`));
    };
    const msg: { job: VariantJob } = {
      job: { pipeline: toJSON(job.p), out: job.dir, resume: hasCkpt, backend },
    };
    worker.postMessage(msg);
  });
}

async function main(): Promise<number> {
  const parsed = await parseOptions(Deno.args);
  if (parsed === "help") {
    console.log(HELP);
    return 0;
  }
  let o = parsed;
  if (o.resume) {
    // A resumed run keeps every setting it started with (run.json), whatever else is given.
    const dir = o.resume;
    let saved: Options;
    try {
      saved = JSON.parse(await Deno.readTextFile(`${dir}/run.json`)).options;
    } catch {
      throw new UsageError(`--resume ${dir}: no readable run.json there (not a gsm8k run folder)`);
    }
    o = { ...saved, resume: dir, workers: o.workers ?? saved.workers };
  }
  if (o.download) {
    try {
      await downloadGsm8k(o.cache, {
        onProgress: (p) => {
          // A progress bar on a terminal; one line per finished file otherwise.
          const tty = Deno.stderr.isTerminal();
          if (!tty && !p.done) return;
          const frac = p.total ? p.bytes / p.total : 0;
          const bar = "#".repeat(Math.round(frac * 30)).padEnd(30, ".");
          const text = `${p.file} [${bar}] ${(p.bytes / 1e6).toFixed(1)} MB` +
            (p.total ? ` of ${(p.total / 1e6).toFixed(1)} MB` : "");
          const line = tty ? `\r${text}${p.done ? "\n" : ""}` : `${text}\n`;
          Deno.stderr.writeSync(new TextEncoder().encode(line));
        },
      });
    } catch (e) {
      throw new UsageError(
        `--download failed: ${(e as Error).message}`,
      );
    }
    o.data ??= o.cache;
  }
  if (o.data) await checkData(o.data, o.skipBad);
  if (o.model && !(await isFile(`${o.model}/config.json`))) {
    throw new UsageError(
      `--model ${o.model}: no config.json there (expected a Hugging Face model folder)`,
    );
  }

  // The CPU backend beats a CPU-emulated WebGPU adapter for models this small (measured).
  const backend = o.backend ?? await fastestBackend();
  await setBackend(backend);
  // Workers import the library afresh: tell them the backend instead of probing again.
  Deno.env.set("LOSSFORGE_BACKEND", backend);

  // The model: a small GPT from scratch over bytes, or LoRA adapters on a pretrained model
  // (the frozen base is captured, so only the adapters are parameters to train and save).
  let model: PipelineSpec["model"];
  let data: DataSource | PipelineSpec["data"];
  const maxLength = o.model ? 256 : 128;
  const synthetic = {
    kind: "gsm8k-synthetic",
    options: {
      seed: o.seed,
      count: 4000,
      evalCount: o.limit,
      difficulty: o.difficulty,
      maxLength,
      maxNumber: o.maxNumber,
    },
  };
  const real = o.data ? gsm8kData({ path: o.data, maxLength, skipBad: o.skipBad }) : undefined;
  if (o.model) {
    const pre = await loadPretrained(o.model);
    const lm = lora(pre.model, { rank: 8, alpha: 16, dropout: 0.05 });
    const base = pre.params;
    const adapted: ModelLike = {
      init: (rng) => lm.initAdapters(rng),
      apply: (adapters, ids, ctx) => lm.apply({ base, adapters } as never, ids, ctx),
    };
    model = adapted;
    const src = (real ?? syntheticData(synthetic.options)) as DataSource;
    data = { ...src, tokenizer: pre.tokenizer, padSide: "left" };
  } else {
    if (o.dim % 4) throw new UsageError(`--dim: must be a multiple of 4 (4 heads), got ${o.dim}`);
    // Llama-style blocks (rotary positions, RMSNorm, SwiGLU) learn to copy the question's
    // numbers into the formula in far fewer steps than GPT-2's learned positions (measured).
    model = o.arch === "gpt"
      ? {
        kind: "gpt",
        options: { vocab: 259, context: maxLength, layers: o.layers, dim: o.dim, heads: 4 },
      }
      : {
        kind: "llama",
        options: {
          vocab: 259,
          context: maxLength,
          layers: o.layers,
          dim: o.dim,
          heads: 4,
          kvHeads: 4,
          hidden: Math.round((8 * o.dim) / 3 / 8) * 8,
          tieEmbeddings: true,
        },
      };
    data = real ?? synthetic;
  }
  const steps = o.steps ?? (o.model ? 150 : 700);
  const lr = o.lr ?? (o.model ? 1e-3 : 3e-3);
  const warmup = Math.min(50, Math.floor(steps / 10));

  const out = o.resume ?? o.out ?? `runs/gsm8k-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  if (backend === "webgpu") {
    const adapter = await findAdapter();
    if (adapter && !isSoftwareAdapter(adapter)) tuneFile = `${out}/matmul-tuning.json`;
  }
  await Deno.mkdir(out, { recursive: true });
  const meta = {
    date: new Date().toISOString(),
    backend,
    data: o.data ??
      `synthetic (gsm8kSynthetic, difficulty ${o.difficulty}, numbers below ${o.maxNumber})`,
    model: o.model ?? `${o.arch}: ${o.layers} layers, dim ${o.dim}, 4 heads, byte vocabulary`,
    steps,
    batch: o.batch,
    lr,
    seed: o.seed,
    weights: o.weights,
    evalProblems: o.limit,
  };
  if (!o.resume) {
    await writeAtomic(`${out}/run.json`, JSON.stringify({ ...meta, options: o }, null, 2) + "\n");
  }
  const previous: Row[] = o.resume && (await isFile(`${out}/results.json`))
    ? JSON.parse(await Deno.readTextFile(`${out}/results.json`)).rows
    : [];

  // One job per loss not already finished. With several workers (CPU backend, spec-only
  // pipelines) the jobs train side by side, one per core; otherwise one after another here.
  const jobs = o.losses.filter((name) => !previous.some((r) => r.loss === name)).map((name) => {
    const label = labelOf(name, o.weights);
    const p: Pipeline = pipeline({
      name: label,
      model,
      loss: lossSpec(name, o.weights),
      optimizer: { kind: "adamw", options: { lr, weightDecay: 0.01 } },
      schedule: { kind: "warmupCosine", options: { peak: lr, warmup, steps } },
      data: data as PipelineSpec["data"],
      eval: { kind: "exact-match", options: { limit: o.limit, maxNewTokens: 32, batchSize: 50 } },
      steps,
      batchSize: o.batch,
      clip: 1,
      seed: o.seed,
      logEvery: 50,
      checkpoint: { dir: `${out}/${name}/checkpoints`, every: 100, keep: 1 },
    });
    return { name, label, p, dir: `${out}/${name}` };
  });
  const serialisable = !o.model;
  const workers = Math.max(
    1,
    Math.min(o.workers ?? (backend === "cpu" && serialisable ? cores() : 1), jobs.length),
  );
  if (workers > 1 && !serialisable) {
    throw new UsageError("--workers: a --model run trains in one process; drop --workers");
  }
  // Variants side by side share the cores: each worker's matmul gets its share of them (unless
  // LOSSFORGE_CPU_THREADS says otherwise), rather than every worker spawning a thread per core.
  if (workers > 1 && backend === "cpu" && !Deno.env.get("LOSSFORGE_CPU_THREADS")) {
    Deno.env.set("LOSSFORGE_CPU_THREADS", String(Math.max(1, Math.floor(cores() / workers))));
  }

  const finished = new Map<string, Row>(previous.map((r) => [r.loss, r]));
  const ordered = () => o.losses.flatMap((n) => finished.get(n) ?? []);
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSigint);
  let interrupted = false;
  let writing = Promise.resolve();
  const record = (job: (typeof jobs)[number], r: VariantResult, seconds: number) => {
    finished.set(job.name, {
      loss: job.name,
      label: job.label,
      exactMatch: r.eval.exactMatch ?? NaN,
      iou: r.eval.iou ?? NaN,
      finalLoss: r.loss,
      steps: r.steps,
      trainSeconds: seconds,
      tokensPerSecond: r.tokensPerSecond,
      curve: r.curve,
    });
    // Results are rewritten (atomically) after every variant: a crash loses nothing finished.
    writing = writing.then(() => writeResults(out, ordered(), meta));
  };
  try {
    console.log(
      `${jobs.length} run(s) of ${steps} steps on ${backend}` +
        (workers > 1 ? `, ${workers} at a time in workers` : ""),
    );
    const queue = [...jobs];
    const lane = async () => {
      for (let job = queue.shift(); job && !stop.signal.aborted; job = queue.shift()) {
        const t0 = performance.now();
        const hasCkpt = await hasCheckpoint(`${job.dir}/checkpoints`);
        const r = workers > 1
          ? await runInWorker(job, hasCkpt, backend, stop.signal)
          : await runHere(job, hasCkpt, stop.signal);
        if (r.stopped !== "completed") {
          interrupted = true;
          continue;
        }
        record(job, r, (performance.now() - t0) / 1000);
      }
    };
    await Promise.all(Array.from({ length: workers }, lane));
    await writing;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
  if (interrupted || stop.signal.aborted) {
    console.log(`\ninterrupted: continue with --resume ${out}`);
    return 130;
  }
  const rows = ordered();
  console.log(`\n${table(rows)}\n\nwrote ${out}/results.json, results.md, curves.svg`);
  return 0;
}

if (import.meta.main) await runMain(main);

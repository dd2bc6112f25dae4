/**
 * Sweeps: one call trains every combination of the given variants (losses, seeds, models,
 * optimizers) of a base pipeline and returns a table, one row per run, ready for `report`
 * and `plotCurves`.
 *
 * @module
 */

import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type BackendName, currentBackendName, ensureBackend } from "../../autograd/backend.ts";
import { removeStaleTemps, writeFileAtomic } from "../../util/atomic.ts";
import { checkpointStep, latestCheckpoint } from "../run/checkpoint.ts";
import { lockRunFolder } from "../run/lock.ts";
import { onStopSignal, type StopSignal } from "../run/stop_signals.ts";
import { CheckpointError, PipelineError, RunFolderError } from "../spec/errors.ts";
import type { TrainEvent } from "../run/events.ts";
import { toJSON } from "../spec/json.ts";
import { createLiveDisplay } from "./live.ts";
import { type Pipeline, pipeline, type PipelineSpec } from "../spec/pipeline.ts";
import { plotCurves, plotIntervals, seedCurves } from "./plot.ts";
import { formatDuration, formatMetrics } from "./progress.ts";
import { comparisonOf, type ReportLayout, toCsv, toJson, toMarkdown } from "./report.ts";
import type { SweepRow, SweepTable } from "./table.ts";
import {
  runVariant,
  type VariantJob,
  type VariantMessage,
  type VariantOutcome,
} from "./sweep_run.ts";
import type { TrainOptions } from "../run/train.ts";
import type { LossLike, ModelLike, OptimizerLike, PartSpec } from "../spec/types.ts";
import { type PlanOptions, type SweepPlan, writePlan } from "./plan.ts";

export type { SweepRow, SweepTable } from "./table.ts";

/**
 * The axes of a sweep. Each is a list of values (labelled automatically from their specs)
 * or an object mapping labels to values.
 *
 * @example
 * ```ts
 * import { pipeline, sweep, type SweepAxes } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const mix = { terms: [["ce", 0.6], ["lovasz", 0.4, { mask: "answer" }]] };
 * // Two losses × three seeds: six variants.
 * const axes: SweepAxes = {
 *   loss: { ce: "ce", "ce+lovasz": { kind: "combine", options: mix } },
 *   seed: [1, 2, 3],
 * };
 * const table = await sweep(base, axes);
 * console.log(table.rows.map((r) => r.label)); // ["loss=ce seed=1", ..., "loss=ce+lovasz seed=3"]
 * ```
 */
export interface SweepAxes {
  /** Losses to compare. */
  loss?: SweepAxis<LossLike | PartSpec | string>;
  /** Seeds to repeat each variant with. */
  seed?: SweepAxis<number>;
  /** Models to compare. */
  model?: SweepAxis<ModelLike | PartSpec>;
  /** Optimizers to compare. */
  optimizer?: SweepAxis<OptimizerLike | PartSpec>;
}

/**
 * One axis: values, or labelled values.
 *
 * @example
 * ```ts
 * import { pipeline, sweep, type SweepAxis } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * // Labelled values: the keys name the variants (a list would label them from their specs).
 * const loss: SweepAxis<string> = { "cross-entropy": "ce", focal: "focal" };
 * const table = await sweep(base, { loss });
 * console.log(table.rows.map((r) => r.label)); // ["loss=cross-entropy", "loss=focal"]
 * ```
 */
export type SweepAxis<T> = readonly T[] | Readonly<Record<string, T>>;

/**
 * Options of {@linkcode sweep}.
 *
 * @example
 * ```ts
 * import { pipeline, sweep } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * // Four variants at a time in workers, continuing whatever an earlier call left unfinished;
 * // each variant trains in its own folder (runs/sweep/loss=ce/, ...) beside results.md.
 * const table = await sweep(base, { loss: ["ce", "focal", "dice", "lovasz"] }, {
 *   out: "runs/sweep",
 *   workers: 4,
 *   resume: true,
 * });
 * ```
 */
export interface SweepOptions {
  /**
   * A folder for the runs: each variant's files (events.jsonl, pipeline.json, checkpoints,
   * result.json) go to `out/<folder>`, and the sweep's report to `out` itself. A base
   * pipeline's `checkpoint` is kept per variant, in `out/<folder>/checkpoints`.
   */
  out?: string;
  /**
   * The label of a variant from its axis labels (the pipeline's name, the row's label and
   * the display's). Default: the axes as `loss=ce seed=1`.
   */
  label?: (variant: Readonly<Record<string, string>>) => string;
  /** The variant's folder under `out`. Default: its label, with odd characters as `_`. */
  folder?: (variant: Readonly<Record<string, string>>) => string;
  /**
   * Variants trained side by side, each in a Web Worker that gets its pipeline as JSON
   * (`toJSON`): a number, or `"auto"` for one per core on the CPU backend when every
   * variant's pipeline has a spec (else one). Default 1: one after another in this thread.
   */
  workers?: number | "auto";
  /**
   * Modules each worker imports before it builds its pipeline: where parts you registered
   * yourself (`registerModel`, `registerLoss`, ...) are registered. URLs, or paths from the
   * current folder.
   */
  imports?: readonly (string | URL)[];
  /**
   * Continue an earlier sweep in `out`: variants that finished (their `result.json`) are
   * kept as they are, unfinished ones continue from their last checkpoint, the rest start.
   */
  resume?: boolean;
  /**
   * Write the report into `out` after each variant finishes (default on with `out`):
   * results.md, results.csv and results.json (`report`) and curves.svg (`plotCurves`).
   */
  report?: boolean | SweepReportOptions;
  /** Every event of every run, with its label. */
  onEvent?: (label: string, event: TrainEvent) => void;
  /**
   * Show progress (default on): on a terminal a live display, one line per running variant
   * redrawn in place with the sweep's ETA; plain lines otherwise (see `createLiveDisplay`).
   */
  progress?: boolean;
  /** Where progress text goes (default stdout); given, progress is plain lines. */
  progressWrite?: (text: string) => void;
  /** Stops the sweep: no variant starts, running ones checkpoint and stop. */
  signal?: AbortSignal;
  /**
   * Stop like `signal` on SIGINT (Ctrl-C) or SIGTERM (a job scheduler), recording which in
   * the table's `signal`; a second signal ends the process at once (default true).
   */
  handleSignals?: boolean;
  /** The first name of `handleSignals`: `false` turns signal handling off all the same. */
  handleSigint?: boolean;
  /** `TrainOptions.tuneMatmul` for variants trained in this thread (WebGPU). */
  tuneMatmul?: TrainOptions["tuneMatmul"];
}

/**
 * How {@linkcode sweep} writes its report: the tables' layout (a heading and the run's
 * settings above the table, its style and metrics), which of them, and curves.svg's title.
 *
 * @example
 * ```ts
 * import { pipeline, sweep } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * // results.md and results.json as a paper's table under the run's settings, and curves.svg
 * // with this title and the steps' IoU as bars.
 * await sweep(base, { loss: ["ce", "focal"] }, {
 *   out: "runs/losses",
 *   report: {
 *     title: "GSM8K: loss and step IoU",
 *     metric: "iou",
 *     heading: "GSM8K: cross-entropy vs focal",
 *     about: { backend: "cpu", steps: 4 },
 *     style: "summary",
 *     metrics: ["exactMatch", "iou"],
 *     files: ["md", "json"],
 *   },
 * });
 * ```
 */
export interface SweepReportOptions extends ReportLayout {
  /** The title of curves.svg. */
  title?: string;
  /** The metric curves.svg draws as bars (default `"exactMatch"`). */
  metric?: string;
  /** The tables written: results.md, results.csv, results.json (default all three). */
  files?: readonly ("md" | "csv" | "json")[];
  /**
   * Writes the tables in a program's own format instead of results.md, .csv and .json
   * (curves.svg is still drawn). Called with the finished rows so far.
   */
  write?: (table: SweepTable, out: string) => Promise<void>;
}

const TABLE_FILES = { md: toMarkdown, csv: toCsv, json: toJson } as const;

/**
 * A short label for a part: its spec's kind (combined losses as `0.6*ce+0.4*lovasz@answer`),
 * else its function name.
 *
 * @example
 * ```ts
 * import { labelOf } from "@lossforge/core";
 * console.log(labelOf({ kind: "combine", options: { terms: [["ce", 0.6], ["focal", 0.4]] } }));
 * // "0.6*ce+0.4*focal"
 * console.log(labelOf("ce")); // "ce"
 * ```
 */
export function labelOf(value: unknown): string {
  if (typeof value === "string" || typeof value === "number") return String(value);
  const spec = (value as { spec?: PartSpec })?.spec ??
    (value && typeof value === "object" && "kind" in value ? value as PartSpec : undefined);
  if (spec?.kind === "combine" && Array.isArray(spec.options?.terms)) {
    return (spec.options.terms as unknown[][]).map(([loss, w, o]) =>
      `${w}*${labelOf(loss)}${(o as { mask?: string })?.mask === "answer" ? "@answer" : ""}`
    ).join("+");
  }
  if (spec) return spec.kind;
  const name = (value as { name?: string })?.name;
  return name || "?";
}

function entries<T>(axis: SweepAxis<T>): [string, T][] {
  return Array.isArray(axis)
    ? (axis as readonly T[]).map((v) => [labelOf(v), v])
    : Object.entries(axis as Record<string, T>);
}

/**
 * Trains every combination of `axes` over `base`, each with its label as the pipeline name,
 * and returns the table. Every variant is validated before the first one trains. A run that
 * fails with a non-finite loss gets a row with `error` and the sweep goes on.
 *
 * With `workers` the variants train side by side in Web Workers (on the CPU backend, one
 * per core); with `out` each variant keeps its own folder and the report is rewritten as
 * each one finishes, so `resume` can pick up a sweep that was stopped (Ctrl-C, SIGTERM, a
 * crash). The sweep locks `out` (a second sweep there throws `RunFolderError`), and a result
 * or report that cannot be written stops every variant (each keeps its last checkpoint) and
 * throws `RunFolderError`.
 * A variant trains with the same pipeline and seed wherever it runs, so its numbers do not
 * depend on `workers` or on being resumed.
 *
 * @example
 * ```ts
 * import { pipeline, sweep } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 64, layers: 1, dim: 32, heads: 4 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 3e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 64, evalCount: 8, maxLength: 64 } },
 *   eval: { kind: "exactMatch", options: { maxNewTokens: 8 } },
 *   steps: 20,
 *   checkpoint: { dir: "checkpoints", every: 10 },
 * });
 * const plus = (x: string) => ({
 *   kind: "combine",
 *   options: { terms: [["ce", 0.6], [x, 0.4, { mask: "answer" }]] },
 * });
 * // Labelled axis values: the keys name the variants' folders (runs/compare/ce, ...).
 * const table = await sweep(base, { loss: { ce: "ce", focal: plus("focal") } }, {
 *   out: "runs/compare", // + results.md, results.csv, results.json, curves.svg
 *   folder: (v) => v.loss,
 *   label: (v) => v.loss === "ce" ? "ce" : `0.6 ce + 0.4 ${v.loss}`,
 *   workers: "auto",
 *   resume: true, // a second call keeps the finished variants
 * });
 * console.log(table.rows.map((r) => [r.label, r.metrics.exactMatch]));
 * ```
 */
export function sweep(
  base: Pipeline,
  axes: SweepAxes,
  options?: SweepOptions,
): Promise<SweepTable>;
/**
 * With `plan: DIR`, writes the sweep as files for a cluster instead of training it (see
 * {@linkcode PlanOptions}): one pipeline JSON per variant, `plan.json`, `slurm.sh` and
 * `job.yaml`; returns the plan.
 *
 * @example
 * ```ts
 * import { pipeline, sweep } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const plan = await sweep(base, { loss: ["ce", "focal"], seed: [1, 2] }, { plan: "runs/plan" });
 * console.log(plan.variants.length, plan.files.slurm); // 4 "runs/plan/slurm.sh"
 * ```
 */
export function sweep(base: Pipeline, axes: SweepAxes, options: PlanOptions): Promise<SweepPlan>;
export async function sweep(
  base: Pipeline,
  axes: SweepAxes,
  options: SweepOptions | PlanOptions = {},
): Promise<SweepTable | SweepPlan> {
  const names = (Object.keys(axes) as (keyof SweepAxes)[]).filter((k) => axes[k] !== undefined);
  if ("plan" in options && options.plan !== undefined) {
    const plan = options as PlanOptions;
    // The variants are laid out as a sweep into the plan's default output root would lay them.
    const variants = planVariants(base, axes, names, { ...plan, out: plan.out ?? plan.plan });
    return await writePlan(variants, names, plan);
  }
  await ensureBackend();
  return await sweepVariants(planVariants(base, axes, names, options), names, options);
}

/**
 * Trains variants already laid out (by `planVariants`, or from a plan's files): `sweep`
 * without the combinations. With `options.out` it locks that folder first.
 *
 * @example
 * ```ts
 * import { pipeline } from "@lossforge/core";
 * import { planVariants, sweepVariants } from "./sweep.ts";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const variants = planVariants(base, { loss: ["ce", "focal"] }, ["loss"], { out: "runs/two" });
 * const table = await sweepVariants(variants, ["loss"], { out: "runs/two", progress: false });
 * console.log(table.rows.length); // 2
 * ```
 */
export async function sweepVariants(
  variants: Variant[],
  names: readonly string[],
  options: SweepOptions,
): Promise<SweepTable> {
  await ensureBackend();
  const out = options.out;
  const lock = out ? await lockRunFolder(out) : undefined;
  try {
    if (out) await removeStaleTemps(out);
    return await sweepLocked(variants, names, options);
  } finally {
    await lock?.release();
  }
}

/** The sweep itself, once `out` is locked. */
async function sweepLocked(
  variants: Variant[],
  names: readonly string[],
  options: SweepOptions,
): Promise<SweepTable> {
  const out = options.out;
  const rows = new Map<string, SweepRow>();
  const todo: (Variant & { fromStep: number; resumeFrom?: string })[] = [];
  for (const v of variants) {
    const kept = options.resume && v.dir ? await readRow(`${v.dir}/result.json`) : undefined;
    if (kept) {
      rows.set(v.label, kept);
      continue;
    }
    const ckpt = options.resume && v.ckptDir ? await latestCheckpoint(v.ckptDir) : undefined;
    const fromStep = ckpt ? checkpointStep(ckpt) ?? 0 : 0;
    todo.push({ ...v, fromStep, ...(ckpt ? { resumeFrom: v.ckptDir } : {}) });
  }
  const backend = currentBackendName();
  const workers = workerCount(options.workers ?? 1, todo, backend);
  // Variants side by side share the cores: each worker's matmul gets its share of them
  // (unless LOSSFORGE_CPU_THREADS says otherwise) rather than a thread per core each.
  const threads = workers > 1 && backend === "cpu" && !envSet("LOSSFORGE_CPU_THREADS")
    ? Math.max(1, Math.floor(cores() / workers))
    : undefined;
  const imports = (options.imports ?? []).map(moduleUrl);

  const live = options.progress === false ? undefined : createLiveDisplay({
    write: options.progressWrite ?? writeStdout,
    isTerminal: !options.progressWrite && Deno.stdout.isTerminal(),
    columns: options.progressWrite ? undefined : terminalColumns(),
  });
  for (const v of todo) live?.add(v.label, v.p.steps);
  const kept = variants.length - todo.length;
  const continued = todo.filter((v) => v.resumeFrom).length;
  live?.message(
    `${todo.length} run(s) on ${backend}` +
      (workers > 1 ? `, ${workers} at a time in workers` : "") +
      (continued ? `; ${continued} continue from a checkpoint` : "") +
      (kept ? `; ${kept} finished earlier, kept` : ""),
  );

  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal?.addEventListener("abort", onAbort);
  if (options.signal?.aborted) stop.abort();
  let stopSignal: StopSignal | undefined;
  const unlisten = (options.handleSignals ?? options.handleSigint ?? true)
    ? onStopSignal((s) => {
      stopSignal = s;
      live?.message(`${s}: stopping at the next step (a second ${s} stops at once)`);
      stop.abort();
    })
    : undefined;

  const table = (): SweepTable => ({
    axes: [...names],
    rows: variants.flatMap((v) => rows.get(v.label) ?? []),
  });
  const reportOptions = options.report === false || !out
    ? undefined
    : options.report === true || options.report === undefined
    ? {}
    : options.report;
  let writing = Promise.resolve();
  let failure: unknown;
  const queue = [...todo];
  const lane = async () => {
    for (let v = queue.shift(); v && !stop.signal.aborted; v = queue.shift()) {
      const started = performance.now();
      live?.start(v.label, v.fromStep);
      const onEvent = (e: TrainEvent) => {
        live?.event(v.label, e);
        options.onEvent?.(v.label, e);
      };
      const place = { out: v.dir, resume: v.resumeFrom };
      let outcome: VariantOutcome;
      try {
        outcome = workers > 1
          ? await runInWorker(
            v.label,
            v.p,
            {
              ...place,
              backend,
              imports,
              ...(threads ? { threads } : {}),
            },
            stop.signal,
            onEvent,
          )
          : await runVariant(
            v.p,
            { ...place, tuneMatmul: options.tuneMatmul },
            stop.signal,
            onEvent,
          );
      } catch (e) {
        // The other variants stop at their next step (with a checkpoint); then it is thrown.
        failure ??= e;
        stop.abort();
        live?.finish(v.label);
        return;
      }
      if (outcome.type === "done" && outcome.stopped === "interrupted") {
        live?.finish(v.label, `${v.label}: stopped at step ${outcome.steps}`);
        continue;
      }
      const row = toRow(v, outcome, (performance.now() - started) / 1000);
      live?.finish(v.label, finishedText(row));
      try {
        if (v.dir) await writeFileAtomic(`${v.dir}/result.json`, rowJson(row));
      } catch (e) {
        // The variant keeps its checkpoints; the other variants stop at their next step.
        failure ??= e;
        stop.abort();
        return;
      }
      rows.set(v.label, row);
      if (reportOptions) report();
    }
  };
  let reported = false;
  const report = () => {
    reported = true;
    writing = writing.then(() => writeReport(table(), out!, reportOptions!)).catch((e) => {
      failure ??= e;
      stop.abort();
    });
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, workers) }, lane));
    // A resumed sweep whose variants had all finished still writes its report: the crash may
    // have come while the last one was being written.
    if (reportOptions && !reported && rows.size > 0 && !stop.signal.aborted) report();
    await writing;
  } finally {
    live?.close();
    options.signal?.removeEventListener("abort", onAbort);
    unlisten?.();
  }
  if (failure !== undefined) throw failure;
  const stopped = rows.size < variants.length ? "interrupted" : "completed";
  return {
    ...table(),
    stopped,
    ...(stopped === "interrupted" && stopSignal ? { signal: stopSignal } : {}),
  };
}

/**
 * One variant of a sweep, laid out: its labels, pipeline and folders.
 *
 * @example
 * ```ts
 * import { pipeline } from "@lossforge/core";
 * import type { Variant } from "./sweep.ts";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const v: Variant = { label: "loss=ce", axisLabels: { loss: "ce" }, p: base, dir: "runs/s/ce" };
 * console.log(`${v.label} trains in ${v.dir}`);
 * ```
 */
export interface Variant {
  label: string;
  axisLabels: Record<string, string>;
  p: Pipeline;
  /** The variant's run folder (with `out`). */
  dir?: string;
  /** Where its checkpoints go. */
  ckptDir?: string;
}

/**
 * Every combination of the axes as a validated pipeline with its label and folder.
 *
 * @example
 * ```ts
 * import { pipeline } from "@lossforge/core";
 * import { planVariants } from "./sweep.ts";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const vs = planVariants(base, { loss: ["ce", "focal"], seed: [1, 2] }, ["loss", "seed"], {});
 * console.log(vs.map((v) => v.label)); // ["loss=ce seed=1", ..., "loss=focal seed=2"]
 * ```
 */
export function planVariants(
  base: Pipeline,
  axes: SweepAxes,
  names: (keyof SweepAxes)[],
  options: Pick<SweepOptions, "label" | "folder" | "out">,
): Variant[] {
  let combos: { label: Record<string, string>; spec: Partial<PipelineSpec> }[] = [
    { label: {}, spec: {} },
  ];
  for (const name of names) {
    const next: typeof combos = [];
    for (const c of combos) {
      for (const [label, value] of entries(axes[name] as SweepAxis<unknown>)) {
        next.push({ label: { ...c.label, [name]: label }, spec: { ...c.spec, [name]: value } });
      }
    }
    combos = next;
  }
  const folders = new Map<string, string>();
  return combos.map((c) => {
    const label = options.label?.(c.label) ??
      (names.map((n) => `${n}=${c.label[n]}`).join(" ") || base.name);
    const folder = options.folder?.(c.label) ?? label.replace(/[^A-Za-z0-9._=+@-]+/g, "_");
    const dir = options.out ? `${options.out.replace(/[\\/]+$/, "")}/${folder}` : undefined;
    if (dir) {
      const other = folders.get(folder);
      if (other !== undefined) {
        throw new PipelineError([{
          path: "sweep.folder",
          message: `variants "${other}" and "${label}" both write to ${dir}`,
        }]);
      }
      folders.set(folder, label);
    }
    // Each variant keeps its own checkpoints: with one folder, variants would resume from
    // each other's.
    const checkpoint = dir && base.checkpoint
      ? { ...base.checkpoint, dir: `${dir}/checkpoints` }
      : base.checkpoint;
    const p = pipeline({ ...base, ...c.spec, name: label, checkpoint });
    return {
      label,
      axisLabels: c.label,
      p,
      dir,
      ckptDir: p.checkpoint?.dir ?? (dir ? `${dir}/checkpoints` : undefined),
    };
  });
}

/** How many lanes: `workers` capped by the variants; pipelines must serialise for workers. */
function workerCount(
  asked: number | "auto",
  todo: readonly Variant[],
  backend: BackendName,
): number {
  if (asked !== "auto" && asked <= 1) return 1;
  const unserialisable = todo.flatMap((v) => {
    try {
      toJSON(v.p);
      return [];
    } catch (e) {
      if (!(e instanceof PipelineError)) throw e;
      return [{ path: v.label, message: e.problems.map((q) => q.message).join("; ") }];
    }
  });
  if (asked === "auto") {
    return backend === "cpu" && unserialisable.length === 0
      ? Math.max(1, Math.min(cores(), todo.length))
      : 1;
  }
  if (!Number.isInteger(asked)) {
    throw new PipelineError([{
      path: "sweep.workers",
      message: `expected an integer, got ${asked}`,
    }]);
  }
  if (unserialisable.length) {
    throw new PipelineError(
      unserialisable.map((u) => ({
        path: `sweep.workers (${u.path})`,
        message:
          `a worker gets its pipeline as JSON, and this one has parts without a spec: ${u.message}`,
      })),
    );
  }
  return Math.max(1, Math.min(asked, todo.length));
}

/** Trains one variant in a Web Worker (`sweep_worker.ts`); its errors name the variant. */
function runInWorker(
  label: string,
  p: Pipeline,
  job: Omit<VariantJob, "pipeline">,
  signal: AbortSignal,
  onEvent: (e: TrainEvent) => void,
): Promise<VariantOutcome> {
  const worker = new Worker(new URL("./sweep_worker.ts", import.meta.url), { type: "module" });
  const onAbort = () => worker.postMessage({ type: "stop" });
  return new Promise<VariantOutcome>((resolve, reject) => {
    const end = () => {
      signal.removeEventListener("abort", onAbort);
      worker.terminate();
    };
    worker.onmessage = (e: MessageEvent<VariantMessage>) => {
      const m = e.data;
      if (m.type === "event") return onEvent(m.event);
      end();
      if (m.type === "outcome") resolve(m.outcome);
      else reject(workerError(label, m));
    };
    worker.onerror = (e) => {
      e.preventDefault();
      end();
      reject(new Error(`${label}: ${e.message}`));
    };
    signal.addEventListener("abort", onAbort);
    const run: { type: "run"; job: VariantJob } = {
      type: "run",
      job: { ...job, pipeline: toJSON(p) },
    };
    worker.postMessage(run);
    if (signal.aborted) onAbort();
  });
}

/** A worker's error as the class it had there, for the errors a program reacts to. */
function workerError(label: string, m: Extract<VariantMessage, { type: "error" }>): Error {
  const text = `${label}: ${m.message}`;
  if (m.name === "CheckpointError") return new CheckpointError(text);
  if (m.name === "RunFolderError") return new RunFolderError(text, m.path ?? "");
  return new Error(text);
}

function toRow(v: Variant, o: VariantOutcome, trainSeconds: number): SweepRow {
  const common = { label: v.label, variant: v.axisLabels, trainSeconds };
  if (o.type === "nonfinite") {
    return {
      ...common,
      metrics: {},
      loss: o.loss,
      steps: o.step,
      tokensPerSecond: 0,
      skipped: 0,
      curve: [],
      error: o.message,
    };
  }
  return {
    ...common,
    metrics: o.metrics,
    loss: o.loss,
    steps: o.steps,
    tokensPerSecond: o.tokensPerSecond,
    skipped: o.skipped,
    curve: o.curve,
    ...(o.problems ? { problems: o.problems } : {}),
  };
}

function finishedText(r: SweepRow): string {
  if (r.error) return `${r.label}: failed: ${r.error}`;
  const m = Object.keys(r.metrics).length ? `  ${formatMetrics(r.metrics)}` : "";
  const loss = Number.isFinite(r.loss) ? r.loss.toFixed(4) : String(r.loss);
  return `${r.label}: done in ${formatDuration(r.trainSeconds)}  loss ${loss}${m}`;
}

/** A row as JSON (non-finite numbers as strings: JSON has none). */
function rowJson(r: SweepRow): string {
  return JSON.stringify(
    r,
    (_k, v) => typeof v === "number" && !Number.isFinite(v) ? String(v) : v,
    2,
  ) + "\n";
}

/**
 * A finished variant's row from its `result.json`, or undefined when there is none.
 *
 * @example
 * ```ts
 * import { readRow } from "./sweep.ts";
 * const row = await readRow("runs/sweep/loss=ce/result.json");
 * console.log(row ? row.loss : "not finished");
 * ```
 */
export async function readRow(path: string): Promise<SweepRow | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  const r = JSON.parse(text) as SweepRow;
  const num = (x: unknown) => typeof x === "number" ? x : Number(x);
  return {
    ...r,
    loss: num(r.loss),
    metrics: Object.fromEntries(Object.entries(r.metrics).map(([k, x]) => [k, num(x)])),
    curve: r.curve.map((c) => ({ step: c.step, loss: num(c.loss) })),
  };
}

/**
 * Writes a sweep's report into `out`: the tables (or `o.write`'s own) and curves.svg.
 *
 * @example
 * ```ts
 * import { writeReport } from "./sweep.ts";
 * await writeReport({ axes: ["loss"], rows: [] }, "runs/empty", { files: ["md"] });
 * ```
 */
export async function writeReport(
  table: SweepTable,
  out: string,
  o: SweepReportOptions,
): Promise<void> {
  const base = out.replace(/[\\/]+$/, "");
  if (o.write) await o.write(table, out);
  else {
    await Deno.mkdir(base, { recursive: true });
    for (const f of o.files ?? ["md", "csv", "json"] as const) {
      await writeFileAtomic(`${base}/results.${f}`, TABLE_FILES[f](table, o));
    }
  }
  await plotCurves(table.rows, `${base}/curves.svg`, {
    title: o.title,
    metric: o.metric,
  });
  // Beside them: the means with their intervals, and each seed's curve.
  const c = comparisonOf(table, o);
  if (c) await plotIntervals(c, `${base}/intervals.svg`, { title: `${c.metric} per ${c.axis}` });
  if (table.axes.includes("seed")) {
    await plotCurves(seedCurves(table.rows), `${base}/seeds.svg`, {
      title: "training loss per seed",
      metric: "",
    });
  }
}

/**
 * A module's URL from a URL or a path from the current folder (how `imports` are named).
 *
 * @example
 * ```ts
 * import { moduleUrl } from "./sweep.ts";
 * console.log(moduleUrl("https://example.com/parts.ts")); // kept as it is
 * console.log(moduleUrl("my_parts.ts")); // file:///<current folder>/my_parts.ts
 * ```
 */
export function moduleUrl(m: string | URL): string {
  if (m instanceof URL) return m.href;
  return /^[a-z][a-z0-9+.-]+:/i.test(m) ? m : pathToFileURL(resolve(m)).href;
}

function cores(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

function envSet(name: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "env", variable: name }).state === "granted" &&
      (Deno.env.get(name) ?? "") !== "";
  } catch {
    return false;
  }
}

function terminalColumns(): number | undefined {
  try {
    // A pseudo-terminal without a size (script, some CI runners) reports 0 columns.
    return Deno.consoleSize().columns || undefined;
  } catch {
    return undefined;
  }
}

function writeStdout(text: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(text));
}

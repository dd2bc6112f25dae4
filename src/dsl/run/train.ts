/**
 * The training runner. Each step runs inside a memory `scope` (only the new params,
 * optimizer state and the step's loss survive it), so live tensors stay flat for any
 * number of steps. Losses stay on the device and are read back in one go every
 * `logEvery` steps (each read costs a GPU round trip of ~11 ms). A run is resumable bit
 * for bit: the checkpoint holds params, optimizer state, the RNG state, the batch
 * position and the losses not yet logged.
 *
 * @module
 */

import { ensureBackend } from "../../autograd/backend.ts";
import {
  concat,
  keep,
  noGrad,
  type Rng,
  rng as makeRng,
  scope,
  stack,
  type Tensor,
  tensor,
  type Tree,
  treeLeaves,
  treeLeavesWithPaths,
} from "../../autograd/mod.ts";
import { resolve } from "node:path";
import { removeStaleTemps, writeFileAtomic } from "../../util/atomic.ts";
import { lockRunFolder, type RunLock } from "./lock.ts";
import { onStopSignal, type StopSignal } from "./stop_signals.ts";
import { currentBackendName } from "../../autograd/backend.ts";
import {
  loadMatmulTuning,
  saveMatmulTuning,
  tuneMatmul,
  type TuneMatmulOptions,
} from "../../gpu/matmul/mod.ts";
import { BatchStream } from "./batches.ts";
import {
  checkpointPath,
  checkpointStep,
  loadCheckpoint,
  type LoadedCheckpoint,
  pruneCheckpoints,
  saveCheckpoint,
  type TrainingState,
  verifyCheckpoint,
} from "./checkpoint.ts";
import {
  CheckpointError,
  NonFiniteLossError,
  PipelineError,
  RunFolderError,
} from "../spec/errors.ts";
import { EventLog, type TrainEvent } from "./events.ts";
import { pipelineFromJSON, type PipelineJSON, toJSON } from "../spec/json.ts";
import type { Pipeline } from "../spec/pipeline.ts";
import { createProgress, type Progress } from "../report/progress.ts";
import { scheduledOptimizer, specOf } from "../spec/registry.ts";
import type { Example, ProblemResults } from "../spec/types.ts";
import type { CombineCallOptions } from "../../losses/mod.ts";
import type { ParamTree } from "../../nn/mod.ts";
import { type Optimizer, type OptState, trainStep } from "../../optim/mod.ts";

/** One micro-batch on the device. */
interface Batch {
  ids: Tensor;
  targets: Tensor;
  answerMask: Tensor;
}

/**
 * Options of {@linkcode train}.
 *
 * @example
 * ```ts
 * import { pipeline, train } from "@lossforge/core";
 * const run = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * // A run folder (events.jsonl, pipeline.json), no progress bar, events into a list.
 * const steps: number[] = [];
 * await train(run, { out: "runs/ce", progress: false, onEvent: (e) => steps.push(e.step) });
 * console.log(steps); // [4]
 * ```
 */
export interface TrainOptions {
  /** Stops the run at the next step boundary (a checkpoint is written, as on SIGTERM). */
  signal?: AbortSignal;
  /** Called with every event. */
  onEvent?: (event: TrainEvent) => void;
  /**
   * The run folder: `events.jsonl`, `pipeline.json`, and checkpoints in `checkpoints/`
   * when the pipeline names no `checkpoint.dir`. A run that does not resume starts a new
   * `events.jsonl` there.
   */
  out?: string;
  /** Show progress: `true`, `false`, or `"auto"` (default: on). */
  progress?: boolean | "auto";
  /** Where progress text goes (default stdout). */
  progressWrite?: (text: string) => void;
  /**
   * Continue from a checkpoint folder (or a run's checkpoint folder: its newest sound one).
   * With `out`, its `events.jsonl` is cut back to the checkpoint's step, so that the log
   * reads as one uninterrupted run.
   */
  resume?: string | LoadedCheckpoint;
  /**
   * On SIGINT or SIGTERM, stop at the next step boundary with a checkpoint and return
   * `stopped: "interrupted"` with the `signal`; a second signal ends the process at once
   * (default true).
   */
  handleSignals?: boolean;
  /** The first name of `handleSignals`: `false` turns signal handling off all the same. */
  handleSigint?: boolean;
  /**
   * Tune the WebGPU matmul kernels for this model (`tuneMatmul`) after the first step, on the
   * WebGPU backend only: `true`, or a file that keeps the table between runs (loaded before
   * the first step when it exists, saved after tuning; shapes it already covers are not timed
   * again). Tuning picks kernels by speed, and kernels sum in different orders, so a run that
   * tunes afresh can differ in the last bits from one that did not; with a file, runs repeat.
   */
  tuneMatmul?: boolean | string | TuneMatmulRun;
}

/**
 * `TrainOptions.tuneMatmul` in full: the table file and how candidates are timed.
 *
 * @example
 * ```ts
 * import { pipeline, train, type TuneMatmulRun } from "@lossforge/core";
 * const run = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * // On WebGPU: time the model's matmuls twice each, and keep the table for the next runs.
 * const tuneMatmul: TuneMatmulRun = { path: "runs/matmul-tuning.json", rounds: 2 };
 * await train(run, { tuneMatmul });
 * ```
 */
export interface TuneMatmulRun extends TuneMatmulOptions {
  /** Where the table is kept between runs. */
  path?: string;
}

/**
 * What a run produced.
 *
 * @example
 * ```ts
 * import { pipeline, train, type TrainResult } from "@lossforge/core";
 * const run = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const result: TrainResult = await train(run, { progress: false });
 * console.log(result.steps, result.stopped, result.loss.toFixed(4)); // 4 "completed" "5.4741"
 * console.log(result.curve); // [{ step: 4, loss: 5.4741... }]
 * ```
 */
export interface TrainResult {
  /** The pipeline that ran. */
  pipeline: Pipeline;
  /** Final parameters (yours to dispose). */
  params: ParamTree;
  /** Final optimizer state (yours to dispose). */
  optState: OptState;
  /** Steps done. */
  steps: number;
  /** The last logged loss. */
  loss: number;
  /** One point per log event. */
  curve: { step: number; loss: number }[];
  /** The final evaluation (when the pipeline has an evaluator and the run completed). */
  eval?: Record<string, number>;
  /** Which held-out problems the final evaluation got right (when its evaluator tells). */
  problems?: ProblemResults;
  /** Seconds of training (a resumed run continues the count). */
  elapsed: number;
  /** Mean real tokens per second over the run. */
  tokensPerSecond: number;
  /** Steps skipped for a non-finite loss. */
  skipped: number;
  /** `"completed"`, or `"interrupted"` by SIGINT, SIGTERM or the abort signal. */
  stopped: "completed" | "interrupted";
  /** The signal that interrupted the run, when one did. */
  signal?: StopSignal;
  /** The last checkpoint written, if any. */
  checkpoint?: string;
}

/**
 * Trains `p`: builds batches, runs `trainStep` on each step's `gradAccum` micro-batches (mean
 * loss and gradients, clipping, the optimizer with the schedule as its learning rate), reports
 * events, evaluates and checkpoints. A non-finite loss or gradient throws
 * `NonFiniteLossError` naming the step and the first parameter whose gradient went
 * non-finite, with the last good checkpoint left intact (or skips the step, with
 * `onNonFinite: "skip"`). SIGINT, SIGTERM or `signal` write a checkpoint and return
 * `stopped: "interrupted"`.
 *
 * The run takes a lock on `out` (and on a checkpoint folder outside it): a second run on the
 * same folder throws `RunFolderError`. A checkpoint or log that cannot be written (a full
 * disk) throws `CheckpointError` or `RunFolderError`, leaving the last good checkpoint.
 *
 * @example
 * ```ts
 * import { pipeline, train } from "@lossforge/core";
 * const run = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 64, layers: 1, dim: 32, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 64, maxLength: 64 } },
 *   steps: 20,
 * });
 * const result = await train(run, { out: "runs/demo" });
 * console.log(result.steps, result.checkpoint); // 20 undefined: no checkpoint asked for
 * ```
 */
export async function train(p: Pipeline, options: TrainOptions = {}): Promise<TrainResult> {
  await ensureBackend();
  const locks = await lockFolders(runFolders(p, options));
  try {
    const loaded = await p.data.load();
    const resumed = typeof options.resume === "string"
      ? await loadCheckpoint(options.resume)
      : options.resume;
    // The log carries on from the checkpoint's step; a run that starts afresh starts it anew.
    if (options.out) await cutEventLog(`${options.out}/events.jsonl`, resumed?.state.step ?? 0);
    return await new Run(p, options, loaded.train, loaded.eval, resumed).go();
  } finally {
    for (const l of locks) await l.release();
  }
}

/** The folders a run writes to: `out`, and its checkpoint folder when that is elsewhere. */
function runFolders(p: Pipeline, o: TrainOptions): string[] {
  const ckpt = p.checkpoint?.dir ?? (o.out ? `${o.out}/checkpoints` : undefined);
  const dirs = o.out ? [o.out] : [];
  const inside = (d: string, parent: string) =>
    (resolve(d) + "/").startsWith(resolve(parent) + "/");
  if (ckpt && !(o.out && inside(ckpt, o.out))) dirs.push(ckpt);
  return dirs;
}

/**
 * Locks each folder (refusing a second run), then clears what interrupted writes left there.
 * Locks are taken in order and all released when one fails.
 */
async function lockFolders(dirs: readonly string[]): Promise<RunLock[]> {
  const locks: RunLock[] = [];
  try {
    for (const d of dirs) {
      locks.push(await lockRunFolder(d));
      await removeStaleTemps(d);
      await removeStaleTemps(`${d}/checkpoints`);
    }
  } catch (e) {
    for (const l of locks) await l.release();
    throw e;
  }
  return locks;
}

/**
 * Keeps the events of `path` up to `step` (and drops a last line a crash cut short), so a
 * resumed run's log carries on where its checkpoint left off.
 */
async function cutEventLog(path: string, step: number): Promise<void> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  const kept = text.split("\n").filter((line) => {
    try {
      const s = JSON.parse(line)?.step;
      return typeof s === "number" && s <= step;
    } catch {
      return false;
    }
  });
  const next = kept.map((l) => l + "\n").join("");
  if (next !== text) await writeFileAtomic(path, next);
}

/**
 * Continues a run from its checkpoint folder (`checkpoint.dir`, or one `step-N` folder).
 * The pipeline is rebuilt from the checkpoint's JSON unless given (pipelines whose parts
 * have no registry spec must be given).
 *
 * @example
 * ```ts
 * import { pipeline, pipelineFromJSON, resume } from "@lossforge/core";
 * // Finish a run that was stopped (its pipeline comes back from the checkpoint)...
 * const result = await resume("runs/demo/checkpoints");
 * console.log(result.steps, result.stopped); // 20 "completed"
 * // ...or take it further: the same run, 30 steps in all.
 * const longer = pipeline({
 *   ...pipelineFromJSON(await Deno.readTextFile("runs/demo/pipeline.json")),
 *   steps: 30,
 * });
 * console.log((await resume("runs/demo/checkpoints", { pipeline: longer })).steps); // 30
 * ```
 */
export async function resume(
  dir: string,
  options: TrainOptions & { pipeline?: Pipeline } = {},
): Promise<TrainResult> {
  const ckpt = await loadCheckpoint(dir);
  let p = options.pipeline;
  if (!p) {
    if (!ckpt.state.pipeline) {
      throw new CheckpointError(
        `${ckpt.path}: the checkpoint holds no pipeline JSON (its parts had no spec); ` +
          `pass the pipeline: resume(dir, { pipeline })`,
      );
    }
    p = pipelineFromJSON(ckpt.state.pipeline);
  }
  return await train(p, { ...options, resume: ckpt });
}

/** One run's mutable state; `go()` is the loop. */
class Run {
  readonly p: Pipeline;
  readonly o: TrainOptions;
  readonly trainSet: readonly Example[];
  readonly evalSet: readonly Example[];
  readonly total: number;
  readonly stream: BatchStream;
  readonly rng: Rng;
  readonly ckptDir?: string;
  readonly json?: PipelineJSON;
  params: ParamTree;
  optState: OptState;
  state: TrainingState;
  /** [loss, gradNorm] per step, still on the device. */
  pendingTensors: Tensor[] = [];
  lastCheckpoint?: string;
  lastLr = NaN;
  intervalStart = performance.now();
  intervalTokens = 0;
  startTime = performance.now();
  startElapsed = 0;
  stopRequested = false;
  stopSignal?: StopSignal;
  lastYield = performance.now();
  progress?: Progress;
  /** The pipeline's optimizer, with the schedule as its learning rate when there is one. */
  readonly optimizer: Optimizer;

  constructor(
    p: Pipeline,
    o: TrainOptions,
    trainSet: readonly Example[],
    evalSet: readonly Example[],
    resumed?: LoadedCheckpoint,
  ) {
    this.p = p;
    this.o = o;
    this.trainSet = trainSet;
    this.evalSet = evalSet;
    const perEpoch = Math.floor(trainSet.length / p.batchSize);
    this.total = p.steps ?? Math.max(1, Math.ceil((p.epochs! * perEpoch) / p.gradAccum));
    this.ckptDir = p.checkpoint?.dir ?? (o.out ? `${o.out}/checkpoints` : undefined);
    this.optimizer = p.schedule ? scheduledOptimizer(p.optimizer, p.schedule) : p.optimizer;
    try {
      this.json = toJSON(p);
    } catch (e) {
      if (!(e instanceof PipelineError)) throw e;
    }
    const root = makeRng(p.seed);
    const initRng = root.split();
    this.rng = root.split();
    if (resumed) {
      this.params = keep(resumed.params);
      this.optState = keep(resumed.optState);
      this.state = structuredClone(resumed.state);
      this.state.pendingGradNorms ??= [];
      this.rng.state = resumed.state.rng;
      this.lastCheckpoint = resumed.path;
    } else {
      this.params = keep(p.model.init(initRng));
      this.optState = keep(p.optimizer.init(this.params));
      this.state = {
        step: 0,
        rng: this.rng.state,
        data: { epoch: 0, index: 0 },
        pending: [],
        pendingGradNorms: [],
        skipped: 0,
        tokens: 0,
        elapsed: 0,
        curve: [],
      };
    }
    this.startElapsed = this.state.elapsed;
    this.stream = new BatchStream(trainSet, p.data.tokenizer, {
      batchSize: p.batchSize,
      maxLength: p.data.maxLength,
      seed: p.seed,
      padSide: p.data.padSide,
    }, this.state.data);
  }

  elapsed(): number {
    return this.startElapsed + (performance.now() - this.startTime) / 1000;
  }

  /**
   * With `tuneMatmul` on the WebGPU backend: loads the table file if there is one, and returns
   * what to run after the first step (tune the shapes that ran, save the file).
   */
  private async prepareTuning(progress?: Progress): Promise<(() => Promise<void>) | undefined> {
    const t = this.o.tuneMatmul;
    if (!t || currentBackendName() !== "webgpu") return undefined;
    const run: TuneMatmulRun = typeof t === "string" ? { path: t } : t === true ? {} : t;
    if (run.path) {
      try {
        await Deno.stat(run.path);
        const { forThisAdapter } = await loadMatmulTuning(run.path);
        progress?.message(
          `matmul tuning: ${forThisAdapter} entries for this adapter from ${run.path}`,
        );
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    return async () => {
      const t0 = performance.now();
      const made = await tuneMatmul(undefined, run);
      if (run.path && made.length > 0) await saveMatmulTuning(run.path);
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      progress?.message(`matmul tuning: ${made.length} new shape classes in ${secs} s`);
    };
  }

  async go(): Promise<TrainResult> {
    const { p, o } = this;
    const log = o.out ? await EventLog.open(`${o.out}/events.jsonl`) : undefined;
    if (o.out && this.json) {
      await writeFileAtomic(`${o.out}/pipeline.json`, JSON.stringify(this.json, null, 2) + "\n");
    }
    const show = o.progress ?? "auto";
    const progress: Progress | undefined = show === false ? undefined : createProgress({
      total: this.total,
      label: p.name === "run" ? undefined : p.name,
      write: o.progressWrite,
      ...(o.progressWrite ? { tty: false } : {}),
    });
    let tune = await this.prepareTuning(progress);
    const emit = async (e: TrainEvent) => {
      progress?.event(e);
      try {
        await log?.write(e);
      } catch (err) {
        const path = `${o.out}/events.jsonl`;
        throw new RunFolderError(`cannot write ${path}: ${(err as Error).message}`, path, {
          cause: err,
        });
      }
      o.onEvent?.(e);
    };
    this.progress = progress;
    const onAbort = () => {
      this.stopRequested = true;
    };
    const unlisten = (o.handleSignals ?? o.handleSigint ?? true)
      ? onStopSignal((s) => {
        this.stopRequested = true;
        this.stopSignal = s;
      })
      : undefined;
    o.signal?.addEventListener("abort", onAbort);
    if (o.signal?.aborted) this.stopRequested = true;
    let finalEval: Record<string, number> | undefined;
    let finalProblems: ProblemResults | undefined;
    try {
      while (this.state.step < this.total && !this.stopRequested) {
        this.step();
        if (tune) {
          await this.drain();
          await tune();
          tune = undefined;
        }
        const s = this.state.step;
        const last = s === this.total;
        const isEval = p.eval !== undefined && p.evalEvery > 0 && s % p.evalEvery === 0;
        const isLog = s % p.logEvery === 0 || isEval || last;
        const isCkpt = this.ckptDir !== undefined && p.checkpoint !== undefined &&
          (s % p.checkpoint.every === 0 || last);
        progress?.tick(s, this.elapsed());
        if (isLog || isCkpt) await this.drain();
        const speed = isLog ? this.closeInterval() : 0;
        let evalResult: Record<string, number> | undefined;
        if (isEval || (last && p.eval)) {
          evalResult = await p.eval!.run(p.model, this.params, p.data, {
            examples: this.evalSet,
            signal: o.signal,
            ...(last ? { onProblems: (r: ProblemResults) => finalProblems = r } : {}),
          });
          if (last) finalEval = evalResult;
        }
        // The event consumes the pending losses before the checkpoint stores what is left. It
        // is logged first: a crash in between resumes from an earlier checkpoint, whose resume
        // cuts the log back, so the log never lacks a step its checkpoint holds.
        const event = isLog ? this.event(speed, evalResult) : undefined;
        const ckpt = isCkpt ? checkpointPath(this.ckptDir!, s) : undefined;
        if (event) await emit(ckpt ? { ...event, checkpoint: ckpt } : event);
        if (isCkpt) await this.checkpoint();
        // With an abort signal, let its timers run after every step so a stop lands promptly.
        await this.maybeYield(o.signal !== undefined);
      }
      if (p.eval && finalEval === undefined && this.state.step >= this.total) {
        // Resumed from the last step's checkpoint (a crash before the results were written):
        // the final evaluation is all that is left.
        finalEval = await p.eval.run(p.model, this.params, p.data, {
          examples: this.evalSet,
          signal: o.signal,
          onProblems: (r) => finalProblems = r,
        });
      }
      if (this.stopRequested && this.state.step < this.total) {
        await this.drain();
        const by = this.stopSignal ? ` by ${this.stopSignal}` : "";
        if (this.ckptDir) {
          // The step may have just been checkpointed (or resumed from): not written twice.
          const ckpt = checkpointStep(this.lastCheckpoint ?? "") === this.state.step
            ? this.lastCheckpoint!
            : await this.checkpoint();
          progress?.message(`interrupted${by} at step ${this.state.step}; checkpoint ${ckpt}`);
        } else progress?.message(`interrupted${by} at step ${this.state.step}; no checkpoint`);
      }
    } catch (e) {
      for (const t of this.pendingTensors) t.dispose();
      this.pendingTensors = [];
      disposeReplaced(this.params, null);
      disposeReplaced(this.optState, null);
      throw e;
    } finally {
      progress?.done();
      log?.close();
      unlisten?.();
      o.signal?.removeEventListener("abort", onAbort);
    }
    const elapsed = this.elapsed();
    return {
      pipeline: p,
      params: this.params,
      optState: this.optState,
      steps: this.state.step,
      loss: this.state.curve.at(-1)?.loss ?? NaN,
      curve: this.state.curve,
      ...(finalEval ? { eval: finalEval } : {}),
      ...(finalEval && finalProblems ? { problems: finalProblems } : {}),
      elapsed,
      tokensPerSecond: elapsed > 0 ? this.state.tokens / elapsed : 0,
      skipped: this.state.skipped,
      stopped: this.state.step < this.total ? "interrupted" : "completed",
      ...(this.stopSignal && this.state.step < this.total ? { signal: this.stopSignal } : {}),
      ...(this.lastCheckpoint ? { checkpoint: this.lastCheckpoint } : {}),
    };
  }

  baseLr(): number {
    const o = this.p.optimizer;
    const lr = (o as { lr?: unknown }).lr ?? specOf(o)?.options?.lr;
    return typeof lr === "number" ? lr : NaN;
  }

  /** One optimizer step, entirely on the device: nothing is read back. */
  step(): void {
    const { p } = this;
    this.lastLr = p.schedule ? p.schedule(this.state.step) : this.baseLr();
    const loss = (params: ParamTree, b: Batch): Tensor => {
      const logits = p.model.apply(params, b.ids, { training: true, rng: this.rng });
      const opts: CombineCallOptions = { answerMask: b.answerMask };
      return p.loss(logits, b.targets, opts);
    };
    const oldParams = this.params, oldState = this.optState;
    const out = scope(() => {
      const batches = Array.from({ length: p.gradAccum }, (): Batch => {
        const b = this.stream.next();
        const shape = [b.batch, b.length];
        for (const n of b.lengths) this.intervalTokens += n;
        return {
          ids: tensor(b.ids, { shape }),
          targets: tensor(b.targets, { shape }),
          answerMask: tensor(b.answerMask, { shape }),
        };
      });
      const r = trainStep(oldParams, oldState, batches, {
        loss,
        optimizer: this.optimizer,
        clip: p.clip,
        skipNonFinite: p.onNonFinite === "skip",
        gradSums: true,
      });
      // [loss, gradNorm, sum of each gradient]: read back in one go, checked in `drain`.
      const record = noGrad(() =>
        concat([stack([r.loss.reshape([]), r.gradNorm.reshape([])]), r.gradSums!])
      );
      return { params: r.params, state: r.state, record };
    });
    keep(out);
    disposeReplaced(oldParams, out.params);
    disposeReplaced(oldState, out.state);
    this.params = out.params;
    this.optState = out.state;
    this.pendingTensors.push(out.record);
    this.state.step++;
  }

  /** Reads the pending losses back in one transfer and checks them. */
  async drain(): Promise<void> {
    if (this.pendingTensors.length === 0) return;
    const ts = this.pendingTensors;
    this.pendingTensors = [];
    const all = scope(() => noGrad(() => stack(ts))); // stack makes intermediates
    for (const t of ts) t.dispose();
    const values = await all.data();
    all.dispose();
    const width = values.length / ts.length;
    const firstStep = this.state.step - ts.length + 1;
    for (let i = 0; i < ts.length; i++) {
      const row = values.subarray(i * width, (i + 1) * width);
      const loss = row[0], norm = row[1];
      if (Number.isFinite(loss) && Number.isFinite(norm)) {
        this.state.pending.push(loss);
        this.state.pendingGradNorms.push(norm);
        continue;
      }
      const step = firstStep + i;
      const bad = row.subarray(2).findIndex((x) => !Number.isFinite(x));
      const path = bad < 0 ? undefined : this.paramPath(bad);
      if (this.p.onNonFinite === "skip") {
        this.state.skipped++;
        this.progress?.message(
          `step ${step} skipped: loss ${loss}, gradient norm ${norm}` +
            (path !== undefined ? `, first non-finite gradient: ${path}` : ""),
        );
        continue;
      }
      const last = this.lastCheckpoint;
      const intact = last ? await verifyCheckpoint(last).then(() => true, () => false) : undefined;
      throw new NonFiniteLossError(step, loss, last, {
        gradNorm: norm,
        ...(path !== undefined ? { path } : {}),
        ...(intact !== undefined ? { checkpointIntact: intact } : {}),
      });
    }
  }

  /** The dotted tree path of the `i`-th parameter (tree order), as `flattenParams` names it. */
  paramPath(i: number): string {
    const path = treeLeavesWithPaths(this.params)[i]?.[0];
    return path === undefined ? `#${i}` : path.length ? path.join(".") : "(root)";
  }

  /** Ends the current log interval (before any evaluation) and returns its tokens/s. */
  closeInterval(): number {
    const now = performance.now();
    const seconds = (now - this.intervalStart) / 1000;
    const tokensPerSecond = seconds > 0 ? this.intervalTokens / seconds : 0;
    this.state.tokens += this.intervalTokens;
    this.intervalTokens = 0;
    this.intervalStart = now;
    return tokensPerSecond;
  }

  event(tokensPerSecond: number, evalResult?: Record<string, number>): TrainEvent {
    const losses = this.state.pending, norms = this.state.pendingGradNorms;
    const loss = losses.length ? losses.reduce((a, b) => a + b, 0) / losses.length : NaN;
    const gradNorm = norms.length ? norms.reduce((a, b) => a + b, 0) / norms.length : NaN;
    this.state.pending = [];
    this.state.pendingGradNorms = [];
    this.state.curve.push({ step: this.state.step, loss });
    return {
      step: this.state.step,
      totalSteps: this.total,
      loss,
      lr: this.lastLr,
      gradNorm,
      tokensPerSecond,
      elapsed: this.elapsed(),
      epoch: this.stream.position.epoch,
      skipped: this.state.skipped,
      ...(evalResult ? { eval: evalResult } : {}),
    };
  }

  async checkpoint(): Promise<string> {
    const dir = this.ckptDir!;
    const state: TrainingState = {
      ...this.state,
      rng: this.rng.state,
      data: this.stream.position,
      tokens: this.state.tokens + this.intervalTokens,
      elapsed: this.elapsed(),
      ...(this.json ? { pipeline: this.json } : {}),
    };
    let path: string;
    try {
      path = await saveCheckpoint(dir, this.params, this.optState, state);
    } catch (e) {
      const kept = this.lastCheckpoint
        ? `the last good checkpoint, ${this.lastCheckpoint}, is kept`
        : "no earlier checkpoint exists";
      const why = e instanceof RunFolderError && e.cause instanceof Error ? e.cause : e;
      throw new CheckpointError(
        `cannot write the checkpoint of step ${state.step} in ${dir}: ` +
          `${(why as Error)?.message ?? why}; ${kept}`,
        { cause: e },
      );
    }
    await pruneCheckpoints(dir, this.p.checkpoint?.keep ?? 3);
    this.lastCheckpoint = path;
    return path;
  }

  /** Lets signals and timers run during long CPU-bound stretches. */
  async maybeYield(always = false): Promise<void> {
    const now = performance.now();
    if (always || now - this.lastYield > 50) {
      this.lastYield = now;
      await new Promise((r) => setTimeout(r, 0));
    }
  }
}

/** Disposes the tensors of `old` that `next` no longer holds (optimizers may reuse some). */
function disposeReplaced(old: Tree, next: Tree): void {
  const still = new Set(treeLeaves(next));
  for (const t of treeLeaves(old)) if (!still.has(t)) t.dispose();
}

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

import {
  div,
  keep,
  minimum,
  noGrad,
  type Rng,
  rng as makeRng,
  scope,
  stack,
  type Tensor,
  tensor,
  type Tree,
  treeLeaves,
  treeMap,
  valueAndGrad,
  where,
} from "../../autograd/mod.ts";
import { writeFileAtomic } from "./atomic.ts";
import { globalNorm } from "../../optim/clip.ts";
import { getBackend } from "../../autograd/backend.ts";
import {
  loadMatmulTuning,
  saveMatmulTuning,
  tuneMatmul,
  type TuneMatmulOptions,
} from "../../gpu/matmul_tune.ts";
import { BatchStream } from "./batches.ts";
import {
  loadCheckpoint,
  type LoadedCheckpoint,
  pruneCheckpoints,
  saveCheckpoint,
  type TrainingState,
} from "./checkpoint.ts";
import { CheckpointError, NonFiniteLossError, PipelineError } from "../spec/errors.ts";
import { EventLog, type TrainEvent } from "./events.ts";
import { pipelineFromJSON, type PipelineJSON, toJSON } from "../spec/json.ts";
import type { Pipeline } from "../spec/pipeline.ts";
import { createProgress, type Progress } from "../report/progress.ts";
import { buildPart, specOf } from "../spec/registry.ts";
import type { Example } from "../spec/types.ts";
import type { CombineCallOptions } from "../../losses/mod.ts";
import type { ParamTree } from "../../nn/mod.ts";
import type { Optimizer, OptState } from "../../optim/mod.ts";

/**
 * Options of {@linkcode train}.
 *
 * @example
 * ```ts
 * import type { TrainOptions } from "./train.ts";
 * const o: TrainOptions = { out: "runs/ce", onEvent: (e) => console.log(e.step, e.loss) };
 * console.log(o.out);
 * ```
 */
export interface TrainOptions {
  /** Stops the run at the next step boundary (a checkpoint is written, like SIGINT). */
  signal?: AbortSignal;
  /** Called with every event. */
  onEvent?: (event: TrainEvent) => void;
  /**
   * The run folder: `events.jsonl`, `pipeline.json`, and checkpoints in `checkpoints/`
   * when the pipeline names no `checkpoint.dir`.
   */
  out?: string;
  /** Show progress: `true`, `false`, or `"auto"` (default: on). */
  progress?: boolean | "auto";
  /** Where progress text goes (default stdout). */
  progressWrite?: (text: string) => void;
  /** Continue from a checkpoint folder (or a run's checkpoint folder: its newest). */
  resume?: string | LoadedCheckpoint;
  /** Handle SIGINT by checkpointing and returning (default true). */
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
 * import type { TuneMatmulRun } from "@lossforge/core";
 * const t: TuneMatmulRun = { path: "runs/matmul-tuning.json", rounds: 2 };
 * console.log(t.path);
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
 * import type { TrainResult } from "./train.ts";
 * const summary = (r: TrainResult) => `${r.steps} steps, loss ${r.loss}, ${r.elapsed}s`;
 * console.log(typeof summary);
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
  /** Seconds of training (a resumed run continues the count). */
  elapsed: number;
  /** Mean real tokens per second over the run. */
  tokensPerSecond: number;
  /** Steps skipped for a non-finite loss. */
  skipped: number;
  /** `"completed"`, or `"interrupted"` by SIGINT or the abort signal. */
  stopped: "completed" | "interrupted";
  /** The last checkpoint written, if any. */
  checkpoint?: string;
}

/**
 * Trains `p`: builds batches, differentiates the loss with `valueAndGrad`, clips, averages
 * `gradAccum` micro-batches, applies the optimizer at the scheduled learning rate, reports
 * events, evaluates and checkpoints. A non-finite loss throws `NonFiniteLossError` naming
 * the step (or skips the step, with `onNonFinite: "skip"`). SIGINT or `signal` write a
 * checkpoint and return `stopped: "interrupted"`.
 *
 * @example
 * ```ts
 * import { pipeline, train } from "../mod.ts";
 * const run = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 64, layers: 1, dim: 32, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8k-synthetic", options: { count: 64, maxLength: 64 } },
 *   steps: 20,
 * });
 * const result = await train(run, { out: "runs/demo" });
 * console.log(result.loss);
 * ```
 */
export async function train(p: Pipeline, options: TrainOptions = {}): Promise<TrainResult> {
  const loaded = await p.data.load();
  const resumed = typeof options.resume === "string"
    ? await loadCheckpoint(options.resume)
    : options.resume;
  return await new Run(p, options, loaded.train, loaded.eval, resumed).go();
}

/**
 * Continues a run from its checkpoint folder (`checkpoint.dir`, or one `step-N` folder).
 * The pipeline is rebuilt from the checkpoint's JSON unless given (pipelines whose parts
 * have no registry spec must be given).
 *
 * @example
 * ```ts
 * import { resume } from "../mod.ts";
 * const result = await resume("runs/demo/checkpoints");
 * console.log(result.steps);
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
  lastYield = performance.now();
  optimizerCache?: { lr: number; opt: Optimizer };

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
    if (!t || getBackend() !== "webgpu") return undefined;
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
      await log?.write(e);
      o.onEvent?.(e);
    };
    const onSigint = () => {
      this.stopRequested = true;
    };
    const onAbort = () => {
      this.stopRequested = true;
    };
    const useSigint = o.handleSigint ?? true;
    if (useSigint) Deno.addSignalListener("SIGINT", onSigint);
    o.signal?.addEventListener("abort", onAbort);
    if (o.signal?.aborted) this.stopRequested = true;
    let finalEval: Record<string, number> | undefined;
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
          });
          if (last) finalEval = evalResult;
        }
        // The event consumes the pending losses before the checkpoint stores what is left.
        const event = isLog ? this.event(speed, evalResult) : undefined;
        const ckpt = isCkpt ? await this.checkpoint() : undefined;
        if (event) await emit(ckpt ? { ...event, checkpoint: ckpt } : event);
        // With an abort signal, let its timers run after every step so a stop lands promptly.
        await this.maybeYield(o.signal !== undefined);
      }
      if (this.stopRequested && this.state.step < this.total) {
        await this.drain();
        if (this.ckptDir) {
          const ckpt = await this.checkpoint();
          progress?.message(`interrupted at step ${this.state.step}; checkpoint ${ckpt}`);
        }
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
      if (useSigint) Deno.removeSignalListener("SIGINT", onSigint);
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
      elapsed,
      tokensPerSecond: elapsed > 0 ? this.state.tokens / elapsed : 0,
      skipped: this.state.skipped,
      stopped: this.state.step < this.total ? "interrupted" : "completed",
      ...(this.lastCheckpoint ? { checkpoint: this.lastCheckpoint } : {}),
    };
  }

  /** The optimizer at learning rate `lr`, rebuilt from its spec. */
  optimizerAt(lr: number): Optimizer {
    const spec = specOf(this.p.optimizer)!;
    if (this.optimizerCache?.lr === lr) return this.optimizerCache.opt;
    const made = buildPart("optimizer", { kind: spec.kind, options: { ...spec.options, lr } });
    this.optimizerCache = { lr, opt: made };
    return made;
  }

  baseLr(): number {
    const o = this.p.optimizer;
    const lr = (o as { lr?: unknown }).lr ?? specOf(o)?.options?.lr;
    return typeof lr === "number" ? lr : NaN;
  }

  /** One optimizer step, entirely on the device: nothing is read back. */
  step(): void {
    const { p } = this;
    const index = this.state.step;
    const lr = p.schedule ? p.schedule(index) : this.baseLr();
    const opt = p.schedule ? this.optimizerAt(lr) : p.optimizer;
    this.lastLr = lr;
    const vg = valueAndGrad(
      (params: ParamTree, ids: Tensor, targets: Tensor, answerMask: Tensor) => {
        const opts: CombineCallOptions = { answerMask };
        return p.loss(p.model.apply(params, ids, { training: true, rng: this.rng }), targets, opts);
      },
    );
    const oldParams = this.params, oldState = this.optState;
    const out = scope(() => {
      let loss: Tensor | undefined, grads: ParamTree | undefined;
      for (let micro = 0; micro < p.gradAccum; micro++) {
        const b = this.stream.next();
        const shape = [b.batch, b.length];
        for (const n of b.lengths) this.intervalTokens += n;
        const [l, g] = vg(
          oldParams,
          tensor(b.ids, { shape }),
          tensor(b.targets, { shape }),
          tensor(b.answerMask, { shape }),
        );
        loss = loss ? loss.add(l) : l;
        grads = grads ? treeMap((a, c) => a.add(c), grads, g) : g;
      }
      if (p.gradAccum > 1) {
        const k = 1 / p.gradAccum;
        loss = loss!.mul(k);
        grads = treeMap((g) => g.mul(k), grads!);
      }
      const norm = globalNorm(grads!);
      // Clipping's factor goes into the update where the optimizer takes it (on WebGPU, AdamW's
      // one kernel reads it: no multiply per gradient tensor).
      let gradScale: Tensor | undefined;
      if (p.clip !== undefined) {
        const scale = minimum(div(p.clip, norm.add(1e-6)), 1);
        if (opt.acceptsGradScale) gradScale = scale;
        else grads = treeMap((g) => g.mul(scale), grads!);
      }
      const upd = opt.update(grads!, oldState, oldParams, gradScale);
      let params = upd.params, state = upd.state;
      if (p.onNonFinite === "skip") {
        // x - x is 0 only for finite x: the flag is false for NaN or Inf in loss or grads.
        const both = loss!.add(norm);
        const finite = both.sub(both).eq(0);
        params = treeMap((n, o) => where(finite, n, o), params, oldParams);
        state = treeMap((n, o) => where(finite, n, o), state, oldState);
      }
      return { params, state, record: noGrad(() => stack([loss!.reshape([]), norm.reshape([])])) };
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
    const firstStep = this.state.step - ts.length + 1;
    for (let i = 0; i < ts.length; i++) {
      const loss = values[2 * i], norm = values[2 * i + 1];
      if (Number.isFinite(loss) && Number.isFinite(norm)) {
        this.state.pending.push(loss);
        this.state.pendingGradNorms.push(norm);
      } else if (this.p.onNonFinite === "skip") {
        this.state.skipped++;
      } else {
        const bad = Number.isFinite(loss) ? norm : loss;
        throw new NonFiniteLossError(firstStep + i, bad, this.lastCheckpoint);
      }
    }
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
    const path = await saveCheckpoint(dir, this.params, this.optState, state);
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

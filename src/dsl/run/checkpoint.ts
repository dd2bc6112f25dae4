/**
 * Checkpoints: one folder per step (`step-00000100/`) holding `params.safetensors`,
 * `optimizer.safetensors` and `state.json` (step, RNG state, data position, the loss
 * values not yet logged, the pipeline). Each folder is filled under a temporary name and
 * renamed when complete, so a crash never leaves a half-written checkpoint, and older
 * checkpoints are only pruned after a newer one exists.
 *
 * @module
 */

import type { Tree } from "../../autograd/mod.ts";
import type { ParamTree } from "../../nn/mod.ts";
import type { OptState } from "../../optim/mod.ts";
import { writeDirAtomic } from "../../util/atomic.ts";
import type { DataPosition } from "./batches.ts";
import { CheckpointError } from "../spec/errors.ts";
import type { PipelineJSON } from "../spec/json.ts";
import { decodeSafetensors, encodeSafetensors } from "../../nn/mod.ts";
import { safetensorsEntries, tensorsFrom } from "../../nn/safetensors.ts";
import { joinTree, splitTree, type TreeSkeleton } from "./tree_codec.ts";

/**
 * Everything besides tensors that a bit-exact resume needs.
 *
 * @example
 * ```ts
 * import { loadCheckpoint, pipeline, train, type TrainingState } from "@lossforge/core";
 * const run = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 20,
 *   checkpoint: { dir: "runs/demo/checkpoints", every: 10 },
 * });
 * await train(run, { out: "runs/demo" });
 * const state: TrainingState = (await loadCheckpoint("runs/demo/checkpoints")).state;
 * console.log(state.step, state.data, state.tokens); // 20 { epoch: 9, index: 16 } 5120
 * ```
 */
export interface TrainingState {
  /** Optimizer steps done. */
  step: number;
  /** The training generator's state (`Rng.state`). */
  rng: number[];
  /** The batch stream's position. */
  data: DataPosition;
  /** Per-step losses since the last log event (logged when the run goes on). */
  pending: number[];
  /** Per-step gradient norms since the last log event. */
  pendingGradNorms: number[];
  /** Steps skipped for a non-finite loss. */
  skipped: number;
  /** Real (non-padding) tokens trained on. */
  tokens: number;
  /** Seconds of training so far. */
  elapsed: number;
  /** The loss curve so far: one point per log event. */
  curve: { step: number; loss: number }[];
  /** The pipeline, when it can be written as JSON (lets `resume(dir)` rebuild it). */
  pipeline?: PipelineJSON;
}

/**
 * A checkpoint read back: tensors live on the current backend.
 *
 * @example
 * ```ts
 * import { countParams, type LoadedCheckpoint, loadCheckpoint } from "@lossforge/core";
 * const c: LoadedCheckpoint = await loadCheckpoint("runs/demo/checkpoints");
 * console.log(c.path, c.state.step); // "runs/demo/checkpoints/step-00000020" 20
 * console.log(countParams(c.params)); // the model's parameters, ready for `evaluate` or `resume`
 * ```
 */
export interface LoadedCheckpoint {
  /** The checkpoint folder. */
  path: string;
  /** Model parameters. */
  params: ParamTree;
  /** Optimizer state. */
  optState: OptState;
  /** Counters, positions and RNG state. */
  state: TrainingState;
}

const PATTERN = /^step-(\d{8})$/;

/**
 * The folder name of the checkpoint of `step` inside `dir`.
 *
 * @example
 * ```ts
 * import { checkpointPath } from "@lossforge/core";
 * console.log(checkpointPath("runs/a", 42)); // "runs/a/step-00000042"
 * ```
 */
export function checkpointPath(dir: string, step: number): string {
  return `${dir.replace(/[\\/]+$/, "")}/step-${String(step).padStart(8, "0")}`;
}

/**
 * Writes a checkpoint atomically and returns its folder.
 *
 * @example
 * ```ts
 * import { loadCheckpoint, saveCheckpoint } from "@lossforge/core";
 * // Keep step 20 of a run somewhere its pruning will not reach.
 * const c = await loadCheckpoint("runs/demo/checkpoints/step-00000020");
 * const path = await saveCheckpoint("runs/keep", c.params, c.optState, c.state);
 * console.log(path); // "runs/keep/step-00000020"
 * ```
 */
export async function saveCheckpoint(
  dir: string,
  params: Tree,
  optState: Tree,
  state: TrainingState,
): Promise<string> {
  const p = splitTree(params), o = splitTree(optState);
  // Every tensor is read back in one go (one flush on a GPU), exactly as stored in memory.
  const [pBytes, oBytes] = await Promise.all([
    safetensorsEntries(p.tensors).then((e) => encodeSafetensors(e, { format: "pt" })),
    safetensorsEntries(o.tensors).then((e) => encodeSafetensors(e)),
  ]);
  await Deno.mkdir(dir, { recursive: true });
  const path = checkpointPath(dir, state.step);
  await writeDirAtomic(path, async (tmp) => {
    await Deno.writeFile(`${tmp}/params.safetensors`, pBytes);
    await Deno.writeFile(`${tmp}/optimizer.safetensors`, oBytes);
    const json = { version: 1, ...state, params: p.skeleton, optimizer: o.skeleton };
    await Deno.writeTextFile(`${tmp}/state.json`, JSON.stringify(json, null, 1));
  });
  return path;
}

/**
 * Complete checkpoint folders in `dir`, oldest first (temporary folders are ignored).
 *
 * @example
 * ```ts
 * import { listCheckpoints } from "@lossforge/core";
 * console.log(await listCheckpoints("runs/demo/checkpoints"));
 * // ["runs/demo/checkpoints/step-00000010", "runs/demo/checkpoints/step-00000020"]
 * ```
 */
export async function listCheckpoints(dir: string): Promise<string[]> {
  const steps: number[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const m = e.isDirectory ? PATTERN.exec(e.name) : null;
      if (m) steps.push(Number(m[1]));
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return steps.sort((a, b) => a - b).map((s) => checkpointPath(dir, s));
}

/**
 * The newest checkpoint in `dir`, or `dir` itself when it is a checkpoint folder;
 * undefined when there is none.
 *
 * @example
 * ```ts
 * import { latestCheckpoint } from "@lossforge/core";
 * console.log(await latestCheckpoint("runs/demo/checkpoints")); // ".../step-00000020"
 * console.log(await latestCheckpoint("runs/none")); // undefined
 * ```
 */
export async function latestCheckpoint(dir: string): Promise<string | undefined> {
  const base = dir.replace(/[\\/]+$/, "");
  if (checkpointStep(base) !== undefined) return base;
  return (await listCheckpoints(base)).at(-1);
}

/**
 * The step a checkpoint folder holds, read from its name (`.../step-00000100` is 100), or
 * undefined when `path` is not a checkpoint folder.
 *
 * @example
 * ```ts
 * import { checkpointStep } from "@lossforge/core";
 * console.log(checkpointStep("runs/a/checkpoints/step-00000100")); // 100
 * console.log(checkpointStep("runs/a/checkpoints")); // undefined
 * ```
 */
export function checkpointStep(path: string): number | undefined {
  const m = PATTERN.exec(path.replace(/[\\/]+$/, "").split(/[\\/]/).pop() ?? "");
  return m ? Number(m[1]) : undefined;
}

/**
 * Removes all but the newest `keep` checkpoints in `dir`.
 *
 * @example
 * ```ts
 * import { listCheckpoints, pruneCheckpoints } from "@lossforge/core";
 * await pruneCheckpoints("runs/demo/checkpoints", 1);
 * console.log(await listCheckpoints("runs/demo/checkpoints")); // [".../step-00000020"]
 * ```
 */
export async function pruneCheckpoints(dir: string, keep: number): Promise<void> {
  const all = await listCheckpoints(dir);
  for (const path of all.slice(0, Math.max(0, all.length - keep))) {
    await Deno.remove(path, { recursive: true });
  }
}

/**
 * Reads a checkpoint folder (or the newest one in a run's checkpoint folder).
 *
 * @example
 * ```ts
 * import { loadCheckpoint } from "@lossforge/core";
 * const newest = await loadCheckpoint("runs/demo/checkpoints"); // the newest step-N folder in it
 * const early = await loadCheckpoint("runs/demo/checkpoints/step-00000010");
 * console.log(newest.state.step, early.state.step); // 20 10
 * ```
 */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const path = await latestCheckpoint(dir);
  if (!path) throw new CheckpointError(`${dir}: no checkpoint found (expected step-NNNNNNNN/)`);
  try {
    const json = JSON.parse(await Deno.readTextFile(`${path}/state.json`));
    const decode = async (name: string) =>
      decodeSafetensors(await Deno.readFile(`${path}/${name}`), { source: `${path}/${name}` });
    // Both files are decoded before any tensor is made, so a bad file leaves nothing behind.
    const [pFile, oFile] = [
      await decode("params.safetensors"),
      await decode("optimizer.safetensors"),
    ];
    const p = tensorsFrom(pFile.tensors), o = tensorsFrom(oFile.tensors);
    const { version: _v, params, optimizer, ...state } = json as {
      version: number;
      params: TreeSkeleton;
      optimizer: TreeSkeleton;
    } & TrainingState;
    return {
      path,
      // The trees come back as `saveCheckpoint` was given them: a model's and an optimizer's.
      params: joinTree(params, p) as ParamTree,
      optState: joinTree(optimizer, o) as OptState,
      state: state as TrainingState,
    };
  } catch (e) {
    throw new CheckpointError(`${path}: cannot read checkpoint: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

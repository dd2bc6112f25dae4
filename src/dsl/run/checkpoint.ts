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
import { writeDirAtomic } from "./atomic.ts";
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
 * import type { TrainingState } from "./checkpoint.ts";
 * const s: TrainingState = {
 *   step: 100, rng: [1, 2, 3, 4], data: { epoch: 0, index: 800 }, pending: [], pendingGradNorms: [],
 *   skipped: 0, tokens: 51200, elapsed: 12.5, curve: [],
 * };
 * console.log(s.step);
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
 * import type { LoadedCheckpoint } from "./checkpoint.ts";
 * const show = (c: LoadedCheckpoint) => `${c.path} at step ${c.state.step}`;
 * console.log(typeof show);
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
 * import { checkpointPath } from "./checkpoint.ts";
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
 * import { tensor } from "../../autograd/mod.ts";
 * import { saveCheckpoint } from "./checkpoint.ts";
 * const path = await saveCheckpoint("runs/demo", { w: tensor([1]) }, null, {
 *   step: 1, rng: [1, 2, 3, 4], data: { epoch: 0, index: 8 }, pending: [], pendingGradNorms: [],
 *   skipped: 0,
 *   tokens: 64, elapsed: 0.1, curve: [],
 * });
 * console.log(path); // runs/demo/step-00000001
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
 * import { listCheckpoints } from "./checkpoint.ts";
 * console.log(await listCheckpoints("runs/demo"));
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
 * import { latestCheckpoint } from "./checkpoint.ts";
 * console.log(await latestCheckpoint("runs/demo"));
 * ```
 */
export async function latestCheckpoint(dir: string): Promise<string | undefined> {
  const base = dir.replace(/[\\/]+$/, "");
  if (PATTERN.test(base.split(/[\\/]/).pop() ?? "")) return base;
  return (await listCheckpoints(base)).at(-1);
}

/**
 * Removes all but the newest `keep` checkpoints in `dir`.
 *
 * @example
 * ```ts
 * import { pruneCheckpoints } from "./checkpoint.ts";
 * await pruneCheckpoints("runs/demo", 3);
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
 * import { loadCheckpoint } from "./checkpoint.ts";
 * const c = await loadCheckpoint("runs/demo");
 * console.log(c.state.step);
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

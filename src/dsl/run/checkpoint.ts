/**
 * Checkpoints: one folder per step (`step-00000100/`) holding `params.safetensors`,
 * `optimizer.safetensors`, `state.json` (step, RNG state, data position, the loss
 * values not yet logged, the pipeline) and `manifest.json` (each file's size and SHA-256).
 * Each folder is filled under a temporary name, flushed to disk and renamed when complete,
 * so a crash never leaves a half-written checkpoint, and older checkpoints are only pruned
 * after a newer one exists. Reading checks the manifest; a run's folder whose newest
 * checkpoint fails it (a damaged disk, a copy cut short) falls back to the one before.
 *
 * @module
 */

import { type Tree, treeDispose } from "../../autograd/mod.ts";
import type { ParamTree } from "../../nn/mod.ts";
import type { OptState } from "../../optim/mod.ts";
import { sha256Hex } from "../../util/sha256.ts";
import { isObject, show } from "../../util/show.ts";
import { writeDirAtomic, writeFileSynced } from "../../util/atomic.ts";
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
  const json = { version: 2, ...state, params: p.skeleton, optimizer: o.skeleton };
  const files: [string, Uint8Array][] = [
    ["params.safetensors", pBytes],
    ["optimizer.safetensors", oBytes],
    ["state.json", new TextEncoder().encode(JSON.stringify(json, null, 1))],
  ];
  await writeDirAtomic(path, async (tmp) => {
    const manifest: Manifest = { version: 1, files: {} };
    for (const [name, bytes] of files) {
      await writeFileSynced(`${tmp}/${name}`, bytes);
      manifest.files[name] = { bytes: bytes.length, sha256: await sha256Hex(bytes) };
    }
    // Written last: a folder with a manifest is complete.
    await writeFileSynced(`${tmp}/${MANIFEST}`, JSON.stringify(manifest, null, 1) + "\n");
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

/** `manifest.json`: every other file of the folder with its size and SHA-256. */
interface Manifest {
  version: 1;
  files: Record<string, { bytes: number; sha256: string }>;
}

const MANIFEST = "manifest.json";
const FILES = ["params.safetensors", "optimizer.safetensors", "state.json"] as const;

/**
 * Options of {@linkcode loadCheckpoint}.
 *
 * @example
 * ```ts
 * import { loadCheckpoint, type LoadCheckpointOptions } from "@lossforge/core";
 * const skipped: string[] = [];
 * const options: LoadCheckpointOptions = { onCorrupt: (message) => skipped.push(message) };
 * const c = await loadCheckpoint("runs/demo/checkpoints", options);
 * console.log(c.path, skipped); // the newest good one, and why any newer one was passed over
 * ```
 */
export interface LoadCheckpointOptions {
  /**
   * Told (one line) when the newest checkpoint of a run's folder cannot be read and an
   * earlier one is used instead. Default: `console.warn`.
   */
  onCorrupt?: (message: string) => void;
}

/**
 * Reads the files of a checkpoint folder, checked against its manifest: each file's size and
 * SHA-256. Checkpoints written before manifests existed (state.json version 1) are read
 * unchecked.
 */
async function readFiles(path: string): Promise<Record<(typeof FILES)[number], Uint8Array>> {
  const read = async (name: string) => {
    try {
      return await Deno.readFile(`${path}/${name}`);
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "missing" : (e as Error).message;
      throw new CheckpointError(`${path}/${name}: cannot read: ${why}`, { cause: e });
    }
  };
  let manifest: Manifest | undefined;
  const manifestBytes = await Deno.readFile(`${path}/${MANIFEST}`).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new CheckpointError(`${path}/${MANIFEST}: cannot read: ${e.message}`, { cause: e });
  });
  if (manifestBytes) {
    let m: unknown;
    try {
      m = JSON.parse(new TextDecoder().decode(manifestBytes));
    } catch (e) {
      throw new CheckpointError(`${path}/${MANIFEST}: not valid JSON: ${(e as Error).message}`);
    }
    if (!isObject(m) || !isObject(m.files)) {
      throw new CheckpointError(`${path}/${MANIFEST}: expected { files: {...} }, got ${show(m)}`);
    }
    manifest = m as unknown as Manifest;
  }
  const out = {} as Record<(typeof FILES)[number], Uint8Array>;
  for (const name of FILES) {
    const entry = manifest?.files[name];
    if (manifest && (!isObject(entry) || typeof entry.sha256 !== "string")) {
      throw new CheckpointError(`${path}/${MANIFEST}: files.${name}: missing or malformed`);
    }
    if (entry) {
      // The size first: a file cut short is told without reading it all.
      const size = (await Deno.stat(`${path}/${name}`).catch(() => undefined))?.size;
      if (size !== undefined && size !== entry.bytes) {
        throw new CheckpointError(
          `${path}/${name}: ${size} bytes, but ${MANIFEST} says ${show(entry.bytes)} (cut short?)`,
        );
      }
    }
    const bytes = await read(name);
    if (entry) {
      const digest = await sha256Hex(bytes);
      if (digest !== entry.sha256) {
        throw new CheckpointError(
          `${path}/${name}: SHA-256 ${digest.slice(0, 16)}... differs from ${MANIFEST}'s ` +
            `${entry.sha256.slice(0, 16)}... (the file is damaged)`,
        );
      }
    }
    out[name] = bytes;
  }
  return out;
}

/** state.json parsed and checked field by field (a damaged one names the field). */
function parseState(
  path: string,
  bytes: Uint8Array,
  checked: boolean,
): TrainingState & { params: TreeSkeleton; optimizer: TreeSkeleton } {
  const where = `${path}/state.json`;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new CheckpointError(`${where}: not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(json)) throw new CheckpointError(`${where}: expected an object, got ${show(json)}`);
  if (!checked && typeof json.version === "number" && json.version >= 2) {
    throw new CheckpointError(`${path}/${MANIFEST}: missing (state.json is version 2)`);
  }
  const bad = (field: string, want: string) =>
    new CheckpointError(`${where}: ${field} must be ${want}, got ${show(json[field as never])}`);
  const count = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  const numbers = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "number");
  if (!count(json.step)) throw bad("step", "an integer >= 0");
  if (!numbers(json.rng) || (json.rng as number[]).length === 0) throw bad("rng", "numbers");
  const d = json.data;
  if (!isObject(d) || !count(d.epoch) || !count(d.index)) {
    throw bad("data", "{ epoch, index } integers >= 0");
  }
  if (!numbers(json.pending)) throw bad("pending", "an array of numbers");
  if (json.pendingGradNorms !== undefined && !numbers(json.pendingGradNorms)) {
    throw bad("pendingGradNorms", "an array of numbers");
  }
  for (const f of ["skipped", "tokens"]) if (!count(json[f])) throw bad(f, "an integer >= 0");
  if (typeof json.elapsed !== "number") throw bad("elapsed", "a number");
  const curve = json.curve;
  if (!Array.isArray(curve) || !curve.every((c) => isObject(c) && typeof c.step === "number")) {
    throw bad("curve", "an array of { step, loss }");
  }
  for (const f of ["params", "optimizer"]) {
    if (json[f] === undefined) throw bad(f, "the tree's skeleton");
  }
  return json as unknown as TrainingState & { params: TreeSkeleton; optimizer: TreeSkeleton };
}

/** Reads one checkpoint folder; every problem is a `CheckpointError` naming the file. */
async function readCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const files = await readFiles(path);
  const checked = await Deno.stat(`${path}/${MANIFEST}`).then(() => true, () => false);
  const { version: _v, params, optimizer, ...state } = parseState(
    path,
    files["state.json"],
    checked,
  ) as TrainingState & { version?: number; params: TreeSkeleton; optimizer: TreeSkeleton };
  const decode = (name: "params.safetensors" | "optimizer.safetensors") => {
    try {
      return decodeSafetensors(files[name], { source: `${path}/${name}` });
    } catch (e) {
      throw new CheckpointError((e as Error).message, { cause: e });
    }
  };
  // Both files are decoded before any tensor is made, so a bad file leaves nothing behind.
  const [pFile, oFile] = [decode("params.safetensors"), decode("optimizer.safetensors")];
  const p = tensorsFrom(pFile.tensors), o = tensorsFrom(oFile.tensors);
  try {
    return {
      path,
      // The trees come back as `saveCheckpoint` was given them: a model's and an optimizer's.
      params: joinTree(params, p) as ParamTree,
      optState: joinTree(optimizer, o) as OptState,
      state: state as TrainingState,
    };
  } catch (e) {
    treeDispose([p, o]);
    throw new CheckpointError(`${path}/state.json: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Checks a checkpoint folder against its manifest (each file's size and SHA-256) and reads
 * its state; throws `CheckpointError` naming the damaged file. Makes no tensors.
 *
 * @example
 * ```ts
 * import { verifyCheckpoint } from "@lossforge/core";
 * await verifyCheckpoint("runs/demo/checkpoints/step-00000020"); // throws if it is damaged
 * ```
 */
export async function verifyCheckpoint(path: string): Promise<void> {
  const files = await readFiles(path);
  const checked = await Deno.stat(`${path}/${MANIFEST}`).then(() => true, () => false);
  parseState(path, files["state.json"], checked);
}

/**
 * Reads a checkpoint folder (or the newest one in a run's checkpoint folder), checking its
 * files against their checksums. In a run's folder, a newest checkpoint that fails is
 * reported (`onCorrupt`, one line naming it) and the one before it is used; a folder named
 * directly must be sound. Every problem is a `CheckpointError` naming the file.
 *
 * @example
 * ```ts
 * import { loadCheckpoint } from "@lossforge/core";
 * const newest = await loadCheckpoint("runs/demo/checkpoints"); // the newest step-N folder in it
 * const early = await loadCheckpoint("runs/demo/checkpoints/step-00000010");
 * console.log(newest.state.step, early.state.step); // 20 10
 * ```
 */
export async function loadCheckpoint(
  dir: string,
  options: LoadCheckpointOptions = {},
): Promise<LoadedCheckpoint> {
  const base = dir.replace(/[\\/]+$/, "");
  const wrap = (path: string, e: unknown) =>
    e instanceof CheckpointError
      ? e
      : new CheckpointError(`${path}: cannot read checkpoint: ${(e as Error).message}`, {
        cause: e,
      });
  if (checkpointStep(base) !== undefined) {
    try {
      return await readCheckpoint(base);
    } catch (e) {
      throw wrap(base, e);
    }
  }
  const all = await listCheckpoints(base);
  if (all.length === 0) {
    throw new CheckpointError(`${dir}: no checkpoint found (expected step-NNNNNNNN/)`);
  }
  const report = options.onCorrupt ?? ((m: string) => console.warn(m));
  let newest: CheckpointError | undefined;
  for (let i = all.length - 1; i >= 0; i--) {
    try {
      return await readCheckpoint(all[i]);
    } catch (e) {
      const err = wrap(all[i], e);
      newest ??= err;
      report(
        `warning: checkpoint ${all[i]} is damaged (${err.message}); ` +
          (i > 0 ? `using ${all[i - 1]} instead` : "no earlier checkpoint is left"),
      );
    }
  }
  throw new CheckpointError(
    `${base}: none of its ${all.length} checkpoint(s) can be read; the newest: ${newest!.message}`,
    { cause: newest },
  );
}

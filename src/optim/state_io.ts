/**
 * Optimizer state to and from a `.safetensors` file, for checkpoints: the slot trees are
 * the tensors, the step count goes into the metadata.
 * @module
 */
import { type BackendName, Tensor, type Tree } from "../autograd/mod.ts";
import { loadSafetensors, type ParamTree, saveSafetensors } from "../nn/mod.ts";
import type { OptState } from "./types.ts";

/**
 * Writes `state` atomically (`slots.m.model.layers.0…` names, `step` in the metadata).
 *
 * @example
 * ```ts
 * import { adamw, saveOptimizerState, zeros } from "@lossforge/core";
 * await saveOptimizerState("/tmp/opt.safetensors", adamw().init({ w: zeros([2]) }));
 * ```
 */
export async function saveOptimizerState(path: string | URL, state: OptState): Promise<void> {
  await saveSafetensors(path, { slots: state.slots as ParamTree }, {
    step: String(state.step),
  });
}

/**
 * Reads a state written by `saveOptimizerState`.
 *
 * @example
 * ```ts
 * import { loadOptimizerState } from "@lossforge/core";
 * const state = await loadOptimizerState("/tmp/opt.safetensors");
 * console.log(state.step);
 * ```
 */
export async function loadOptimizerState(
  path: string | URL,
  opts: { backend?: BackendName } = {},
): Promise<OptState> {
  const { params, metadata } = await loadSafetensors(path, opts);
  const step = Number(metadata.step ?? "0");
  const root = params instanceof Tensor || Array.isArray(params)
    ? {}
    : params as Record<string, Tree>;
  // A state with no tensors (plain SGD) stores no slots.
  return { step, slots: (root.slots ?? {}) as Record<string, Tree> };
}

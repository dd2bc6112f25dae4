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
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await saveOptimizerState(path, adamw().init({ w: zeros([2]) })); // safetensors: slots and step
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
 * import { adamw, loadOptimizerState, saveOptimizerState, tensor } from "@lossforge/core";
 * const opt = adamw({ lr: 0.1 }), params = { w: tensor([1, 2]) };
 * const { state } = opt.update({ w: tensor([1, 1]) }, opt.init(params), params);
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await saveOptimizerState(path, state);
 * const resumed = await loadOptimizerState(path);
 * console.log(resumed.step, Object.keys(resumed.slots)); // 1 ["m", "v"]
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

/**
 * Parameter trees to and from `.safetensors` files, on top of the byte-level codec: names
 * are the dotted paths of the tree (so Hugging Face names round-trip), writes are atomic.
 * @module
 */
import { type BackendName, getBackend, type Tensor, tensor } from "../autograd/mod.ts";
import { flattenParams, type ParamTree, unflattenParams } from "./params.ts";
import {
  type DecodedTensor,
  readSafetensorsFile,
  type SafetensorsEntry,
  writeSafetensorsFile,
} from "./safetensors_codec.ts";

/**
 * Options of `saveSafetensors`.
 *
 * @example
 * ```ts
 * import type { SaveSafetensorsOptions } from "@lossforge/core";
 * const o: SaveSafetensorsOptions = { dtype: "BF16" };
 * ```
 */
export interface SaveSafetensorsOptions {
  /**
   * Stored dtype of float tensors: `"F32"`, `"F16"` or `"BF16"` (default: F32 for float32
   * tensors, F64 for float64 ones, so a reload is exact). Int32 tensors are stored as I32.
   */
  dtype?: "F32" | "F16" | "BF16";
}

/**
 * Writes every tensor of `tree` to `path` under its dotted name (atomically: a temporary
 * file renamed into place). `metadata` goes into the header's `__metadata__`.
 *
 * @example
 * ```ts
 * import { saveSafetensors, zeros } from "@lossforge/core";
 * await saveSafetensors("/tmp/w.safetensors", { lm_head: { weight: zeros([4, 2]) } }, {
 *   format: "pt",
 * });
 * ```
 */
export async function saveSafetensors(
  path: string | URL,
  tree: ParamTree,
  metadata?: Record<string, string>,
  opts: SaveSafetensorsOptions = {},
): Promise<void> {
  const entries: Record<string, SafetensorsEntry> = {};
  for (const [name, t] of Object.entries(flattenParams(tree))) {
    entries[name] = await entryOf(t, opts);
  }
  await writeSafetensorsFile(path, entries, metadata);
}

async function entryOf(t: Tensor, opts: SaveSafetensorsOptions): Promise<SafetensorsEntry> {
  const data = await t.data();
  const shape = [...t.shape];
  if (t.dtype === "int32") return { dtype: "I32", shape, data: data as Int32Array };
  if (opts.dtype) return { dtype: opts.dtype, shape, data: data as Float32Array | Float64Array };
  return t.dtype === "float64"
    ? { dtype: "F64", shape, data: data as Float64Array }
    : { dtype: "F32", shape, data: data as Float32Array };
}

/**
 * Options of `loadSafetensors`.
 *
 * @example
 * ```ts
 * import type { LoadSafetensorsOptions } from "@lossforge/core";
 * const o: LoadSafetensorsOptions = { backend: "cpu" };
 * ```
 */
export interface LoadSafetensorsOptions {
  /** Where the tensors go (default: the current backend). */
  backend?: BackendName;
}

/**
 * A loaded file: the tensors as a tree and the header metadata.
 *
 * @example
 * ```ts
 * import type { LoadedSafetensors } from "@lossforge/core";
 * const names = (l: LoadedSafetensors) => Object.keys(l.metadata);
 * ```
 */
export interface LoadedSafetensors {
  /** The tensors, unflattened from their dotted names. */
  params: ParamTree;
  /** The `__metadata__` strings. */
  metadata: Record<string, string>;
}

/**
 * Reads a `.safetensors` file into a tree (F16/BF16 become float32; F64 stays float64 on
 * the CPU and becomes float32 elsewhere). A truncated or inconsistent file is an error and
 * nothing is loaded.
 *
 * @example
 * ```ts
 * import { loadSafetensors } from "@lossforge/core";
 * const { params, metadata } = await loadSafetensors("/tmp/w.safetensors");
 * console.log(Object.keys(params), metadata);
 * ```
 */
export async function loadSafetensors(
  path: string | URL,
  opts: LoadSafetensorsOptions = {},
): Promise<LoadedSafetensors> {
  const { tensors, metadata } = await readSafetensorsFile(path);
  return { params: unflattenParams(tensorsFrom(tensors, opts.backend)), metadata };
}

/**
 * Decoded arrays to tensors on `backend` (float64 stays float64 on the CPU only).
 *
 * @example
 * ```ts
 * import { tensorsFrom } from "./safetensors.ts";
 * const t = tensorsFrom({ w: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) } }, "cpu");
 * console.log(t.w.shape); // [2]
 * ```
 */
export function tensorsFrom(
  decoded: Record<string, DecodedTensor>,
  backend: BackendName = getBackend(),
): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, d] of Object.entries(decoded)) {
    const dtype = d.data instanceof Int32Array
      ? "int32"
      : d.data instanceof Float64Array && backend === "cpu"
      ? "float64"
      : "float32";
    out[name] = tensor(d.data, { shape: d.shape, dtype, backend });
  }
  return out;
}

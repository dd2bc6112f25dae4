/**
 * Parameter trees to and from `.safetensors` files, on top of the byte-level codec: names
 * are the dotted paths of the tree (so Hugging Face names round-trip), writes are atomic.
 * @module
 */
import {
  type BackendName,
  currentBackendName,
  type DType,
  type Tensor,
  tensor,
} from "../autograd/mod.ts";
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
 * import { saveSafetensors, zeros } from "@lossforge/core";
 * // Half the bytes of float32: stored as bfloat16, read back as float32.
 * await saveSafetensors("model.safetensors", { w: zeros([4, 2]) }, {}, { dtype: "BF16" });
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
 * // Stored as "lm_head.weight", the name PyTorch reads.
 * await saveSafetensors("model.safetensors", { lm_head: { weight: zeros([4, 2]) } }, {
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
  await writeSafetensorsFile(path, await safetensorsEntries(flattenParams(tree), opts), metadata);
}

/**
 * Named tensors as safetensors entries, read back all at once (one flush on a GPU). Without
 * `opts.dtype` the stored dtype is the tensor's own (F32, F64, I32, BF16, F16), so a reload
 * is exact.
 *
 * @example
 * ```ts
 * import { encodeSafetensors, tensor } from "@lossforge/core";
 * import { safetensorsEntries } from "./safetensors.ts";
 * const bytes = encodeSafetensors(await safetensorsEntries({ w: tensor([1, 2]) }));
 * console.log(bytes.length);
 * ```
 */
export async function safetensorsEntries(
  tensors: Record<string, Tensor>,
  opts: SaveSafetensorsOptions = {},
): Promise<Record<string, SafetensorsEntry>> {
  const named = Object.entries(tensors);
  const datas = await Promise.all(named.map(([, t]) => t.data()));
  const entries: Record<string, SafetensorsEntry> = {};
  named.forEach(([name, t], i) => {
    const data = datas[i], shape = [...t.shape];
    // A half tensor's data() is its exact float32 values: encoding them as its own dtype
    // gives its bits back.
    const own = t.dtype === "bfloat16" ? "BF16" : t.dtype === "float16" ? "F16" : undefined;
    entries[name] = t.dtype === "int32"
      ? { dtype: "I32", shape, data: data as Int32Array }
      : opts.dtype || own
      ? { dtype: (opts.dtype ?? own)!, shape, data: data as Float32Array | Float64Array }
      : t.dtype === "float64"
      ? { dtype: "F64", shape, data: data as Float64Array }
      : { dtype: "F32", shape, data: data as Float32Array };
  });
  return entries;
}

/**
 * Options of `loadSafetensors`.
 *
 * @example
 * ```ts
 * import { loadSafetensors } from "@lossforge/core";
 * const { params } = await loadSafetensors("model.safetensors", { backend: "cpu" });
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
 * import { countParams, type LoadedSafetensors, loadSafetensors } from "@lossforge/core";
 * const file = "models/tiny-llama-hf/model.safetensors";
 * const loaded: LoadedSafetensors = await loadSafetensors(file);
 * console.log(countParams(loaded.params), loaded.metadata.format); // 167744 "pt"
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
 * const { params, metadata } = await loadSafetensors("model.safetensors");
 * console.log(Object.keys(params), metadata); // ["lm_head"] { format: "pt" }
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
 * Decoded arrays to tensors on `backend` (float64 stays float64 on the CPU only; raw half
 * bits, as `readSafetensorsFile` keeps them with `half: "keep"`, become bfloat16 / float16
 * tensors). The arrays are handed over, not copied: the CPU backend keeps them as the
 * tensors' storage, so the caller must not reuse them.
 *
 * @example
 * ```ts
 * import { tensorsFrom } from "./safetensors.ts";
 * const t = tensorsFrom({
 *   w: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) },
 * }, "cpu");
 * console.log(t.w.shape); // [2]
 * ```
 */
export function tensorsFrom(
  decoded: Record<string, DecodedTensor>,
  backend: BackendName = currentBackendName(),
): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, d] of Object.entries(decoded)) {
    const dtype: DType = d.data instanceof Int32Array
      ? "int32"
      : d.data instanceof Uint16Array
      ? (d.dtype === "F16" ? "float16" : "bfloat16")
      : d.data instanceof Float64Array && backend === "cpu"
      ? "float64"
      : "float32";
    out[name] = tensor(d.data, { shape: d.shape, dtype, backend, copy: false });
  }
  return out;
}

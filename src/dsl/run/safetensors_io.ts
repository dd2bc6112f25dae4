/**
 * A minimal safetensors encoder/decoder for checkpoints (F32, F64 and I32, exactly as
 * stored in memory, so a resumed run is bit-identical). The format: an 8-byte
 * little-endian header length, a JSON header `{ name: { dtype, shape, data_offsets } }`,
 * then the raw little-endian data. PyTorch's `safetensors.torch.load_file` reads it.
 *
 * @module
 */

import type { DType, TypedArray } from "../../autograd/mod.ts";

/**
 * One stored array.
 *
 * @example
 * ```ts
 * import type { StoredArray } from "./safetensors_io.ts";
 * const a: StoredArray = { dtype: "float32", shape: [2], data: new Float32Array([1, 2]) };
 * console.log(a.shape);
 * ```
 */
export interface StoredArray {
  /** Element type. */
  dtype: DType;
  /** Dimensions. */
  shape: readonly number[];
  /** Values, row-major. */
  data: TypedArray;
}

const CODE: Record<DType, string> = { float32: "F32", float64: "F64", int32: "I32" };
const BYTES: Record<DType, number> = { float32: 4, float64: 8, int32: 4 };

/**
 * Encodes named arrays (and string metadata) as safetensors bytes.
 *
 * @example
 * ```ts
 * import { decodeArrays, encodeArrays } from "./safetensors_io.ts";
 * const bytes = encodeArrays({ w: { dtype: "float32", shape: [1], data: new Float32Array([3]) } });
 * console.log(decodeArrays(bytes).arrays.w.data); // Float32Array [3]
 * ```
 */
export function encodeArrays(
  arrays: Record<string, StoredArray>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const names = Object.keys(arrays);
  for (const name of names) {
    const a = arrays[name];
    const n = a.data.length * BYTES[a.dtype];
    header[name] = {
      dtype: CODE[a.dtype],
      shape: [...a.shape],
      data_offsets: [offset, offset + n],
    };
    offset += n;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8); // keeps the data 8-byte aligned
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const name of names) {
    const d = arrays[name].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}

/**
 * Decodes safetensors bytes written by {@linkcode encodeArrays} (F32, F64, I32).
 *
 * @example
 * ```ts
 * import { decodeArrays, encodeArrays } from "./safetensors_io.ts";
 * const { metadata } = decodeArrays(encodeArrays({}, { step: "3" }));
 * console.log(metadata.step); // "3"
 * ```
 */
export function decodeArrays(
  bytes: Uint8Array,
): { arrays: Record<string, StoredArray>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new RangeError("safetensors: file shorter than its 8-byte header");
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  if (8 + n > bytes.length) throw new RangeError("safetensors: header runs past the end of file");
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const base = 8 + n;
  const arrays: Record<string, StoredArray> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const e = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const dtype = (Object.keys(CODE) as DType[]).find((d) => CODE[d] === e.dtype);
    if (!dtype) throw new TypeError(`safetensors: ${name}: unsupported dtype ${e.dtype}`);
    const [begin, end] = e.data_offsets;
    if (base + end > bytes.length || begin > end) {
      throw new RangeError(`safetensors: ${name}: data outside the file`);
    }
    const copy = bytes.slice(base + begin, base + end).buffer;
    const data = dtype === "float32"
      ? new Float32Array(copy)
      : dtype === "float64"
      ? new Float64Array(copy)
      : new Int32Array(copy);
    arrays[name] = { dtype, shape: e.shape, data };
  }
  return { arrays, metadata: header.__metadata__ ?? {} };
}

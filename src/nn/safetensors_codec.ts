/**
 * Byte-level reader/writer for the safetensors format:
 *
 * ```text
 * [8 bytes: N, little-endian u64][N bytes: JSON header, space padded][data bytes]
 * header = { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] },
 *            "__metadata__"?: { "<key>": "<string>" } }
 * ```
 *
 * Offsets are relative to the start of the data area. F16 and BF16 tensors are converted
 * to `Float32Array` on load (or kept as raw `Uint16Array` bits with `half: "keep"`), I64 to
 * `Int32Array` (with a range check). A file is read tensor by tensor, each straight into the
 * typed array it is returned in, so reading holds the tensors once (no copy of the file).
 *
 * @module
 */

import { parsing, parsingAsync } from "../util/parse_error.ts";
import { isObject, show } from "../util/show.ts";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, widenHalfInto } from "../autograd/half.ts";
import type { HalfDType } from "../autograd/dtype.ts";

// The half-precision conversions live with the tensors' dtypes; the codec's public face
// keeps offering them.
export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 };

/**
 * The dtypes this codec reads and writes.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors, type SafetensorsDtype } from "@lossforge/core";
 * const dtype: SafetensorsDtype = "BF16";
 * const bytes = encodeSafetensors({ w: { dtype, shape: [2], data: new Float32Array([1, 0.5]) } });
 * console.log(decodeSafetensors(bytes).tensors.w.dtype); // "BF16"
 * ```
 */
export type SafetensorsDtype = "F32" | "F16" | "BF16" | "F64" | "I32" | "I64";

/**
 * Typed arrays accepted when encoding (F16/BF16 as raw `Uint16Array` bits or floats).
 *
 * @example
 * ```ts
 * import { encodeSafetensors, type SafetensorsData } from "@lossforge/core";
 * const data: SafetensorsData = new Int32Array([1, 2, 3]);
 * console.log(encodeSafetensors({ ids: { dtype: "I32", shape: [3], data } }).length); // 84
 * ```
 */
export type SafetensorsData =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint16Array
  | BigInt64Array;

/**
 * One tensor to encode.
 *
 * @example
 * ```ts
 * import { encodeSafetensors, type SafetensorsEntry } from "@lossforge/core";
 * // Floats given for an F16 entry are rounded to half precision when encoded.
 * const e: SafetensorsEntry = { dtype: "F16", shape: [2], data: new Float32Array([1, 2]) };
 * const bytes = encodeSafetensors({ "lm_head.weight": e });
 * ```
 */
export interface SafetensorsEntry {
  /** Stored dtype. */
  dtype: SafetensorsDtype;
  /** Tensor shape; the product must equal `data.length`. */
  shape: number[];
  /**
   * Values. F32/F64: `Float32Array` or `Float64Array`. F16/BF16: `Uint16Array` of raw bits,
   * or `Float32Array`/`Float64Array` (rounded to nearest even; a `Float64Array` is first
   * rounded to f32). I32: `Int32Array`. I64: `BigInt64Array` or `Int32Array`.
   */
  data: SafetensorsData;
}

/**
 * One decoded tensor. F16/BF16 arrive as `Float32Array` (as raw `Uint16Array` bits with
 * `half: "keep"`), I64 as `Int32Array`.
 *
 * @example
 * ```ts
 * import { type DecodedTensor, readSafetensorsFile } from "@lossforge/core";
 * const { tensors } = await readSafetensorsFile("models/tiny-llama-hf/model.safetensors");
 * const t: DecodedTensor = tensors["lm_head.weight"];
 * console.log(t.dtype, t.shape, t.data.length); // "F32" [600, 64] 38400
 * ```
 */
export interface DecodedTensor {
  /** The dtype stored in the file. */
  dtype: SafetensorsDtype;
  /** Tensor shape. */
  shape: number[];
  /** Values, converted as described above. */
  data: Float32Array | Float64Array | Int32Array | Uint16Array;
}

/**
 * Options of {@linkcode decodeSafetensors} and {@linkcode readSafetensorsFile}.
 *
 * @example
 * ```ts
 * import { readSafetensorsFile, type SafetensorsReadOptions } from "@lossforge/core";
 * // A bf16 checkpoint held at 2 bytes per weight: BF16 tensors come back as Uint16Array bits.
 * const opts: SafetensorsReadOptions = { half: "keep" };
 * const { tensors } = await readSafetensorsFile("models/bf16/model.safetensors", opts);
 * console.log(tensors["lm_head.weight"].data.BYTES_PER_ELEMENT); // 2
 * ```
 */
export interface SafetensorsReadOptions {
  /** Names the file or bytes in error messages. */
  source?: string;
  /**
   * F16 and BF16 tensors: `"float32"` (default) widens them to `Float32Array` (exact);
   * `"keep"` returns their raw bits as `Uint16Array` (2 bytes per element).
   */
  half?: "float32" | "keep";
}

/**
 * The result of {@linkcode decodeSafetensors}.
 *
 * @example
 * ```ts
 * import { type DecodedSafetensors, decodeSafetensors } from "@lossforge/core";
 * const bytes = await Deno.readFile("models/tiny-llama-hf/model.safetensors");
 * const { tensors, metadata }: DecodedSafetensors = decodeSafetensors(bytes);
 * console.log(Object.keys(tensors).length, metadata.format); // 21 "pt"
 * ```
 */
export interface DecodedSafetensors {
  /** Tensors by name. */
  tensors: Record<string, DecodedTensor>;
  /** The `__metadata__` string map (empty when absent). */
  metadata: Record<string, string>;
}

/**
 * A tensor's entry in the JSON header.
 *
 * @example
 * ```ts
 * import { readSafetensorsHeader, type SafetensorsHeaderEntry } from "@lossforge/core";
 * const h = await readSafetensorsHeader("models/tiny-llama-hf/model.safetensors");
 * const e: SafetensorsHeaderEntry = h.tensors["lm_head.weight"];
 * console.log(e.dtype, e.shape, e.data_offsets); // "F32" [600, 64] [0, 153600]
 * ```
 */
export interface SafetensorsHeaderEntry {
  /** Stored dtype. */
  dtype: SafetensorsDtype;
  /** Tensor shape. */
  shape: number[];
  /** `[begin, end)` byte offsets relative to the data area. */
  data_offsets: [number, number];
}

/**
 * A parsed and validated header, as returned by {@linkcode readSafetensorsHeader}.
 *
 * @example
 * ```ts
 * import { readSafetensorsHeader, type SafetensorsHeader } from "@lossforge/core";
 * const file = "models/tiny-llama-hf/model.safetensors";
 * const h: SafetensorsHeader = await readSafetensorsHeader(file);
 * console.log(h.dataStart, Object.keys(h.tensors).length); // 2152 21
 * ```
 */
export interface SafetensorsHeader {
  /** Tensor entries by name (header order). */
  tensors: Record<string, SafetensorsHeaderEntry>;
  /** The `__metadata__` string map (empty when absent). */
  metadata: Record<string, string>;
  /** Byte offset of the data area within the file (8 + header length). */
  dataStart: number;
  /** Length of the data area in bytes. */
  dataLength: number;
}

/**
 * The result of {@linkcode loadShardedIndex}.
 *
 * @example
 * ```ts
 * import { loadShardedIndex, type ShardedIndex } from "@lossforge/core";
 * const { shards, weightMap }: ShardedIndex = await loadShardedIndex("models/big-model/");
 * console.log(shards.length, weightMap["lm_head.weight"]);
 * // e.g. 2 "model-00002-of-00002.safetensors"
 * ```
 */
export interface ShardedIndex {
  /** Distinct shard file paths (joined with the directory), in first-appearance order. */
  shards: string[];
  /** Tensor name → shard file name, as in the index. */
  weightMap: Record<string, string>;
  /** The index's `metadata` object (e.g. `total_size`), or `{}`. */
  metadata: Record<string, unknown>;
}

const DTYPE_SIZE: Record<SafetensorsDtype, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I32: 4,
  I64: 8,
};
const DTYPES = Object.keys(DTYPE_SIZE) as SafetensorsDtype[];
/** Valid safetensors dtypes this codec does not decode (for clearer errors). */
const OTHER_DTYPES = ["BOOL", "U8", "I8", "U16", "I16", "U32", "U64", "F8_E4M3", "F8_E5M2"];
const MAX_HEADER = 100_000_000;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------------------
// Encoding

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function toBytes(view: ArrayBufferView, bytesPerElement: number): Uint8Array {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  if (LITTLE_ENDIAN || bytesPerElement === 1) return bytes;
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += bytesPerElement) {
    for (let j = 0; j < bytesPerElement; j++) out[i + j] = bytes[i + bytesPerElement - 1 - j];
  }
  return out;
}

function entryBytes(name: string, e: SafetensorsEntry): Uint8Array {
  const { dtype, data } = e;
  const kind = data?.constructor?.name ?? typeof data;
  const bad = (): never => {
    throw new Error(`tensor ${show(name)}: dtype ${dtype} cannot be written from a ${kind}`);
  };
  switch (dtype) {
    case "F32":
      if (data instanceof Float32Array) return toBytes(data, 4);
      if (data instanceof Float64Array) return toBytes(Float32Array.from(data), 4);
      return bad();
    case "F64":
      if (data instanceof Float64Array) return toBytes(data, 8);
      if (data instanceof Float32Array) return toBytes(Float64Array.from(data), 8);
      return bad();
    case "F16":
    case "BF16": {
      if (data instanceof Uint16Array) return toBytes(data, 2);
      if (data instanceof Float32Array || data instanceof Float64Array) {
        return toBytes(dtype === "F16" ? f32ToF16(data) : f32ToBf16(data), 2);
      }
      return bad();
    }
    case "I32":
      if (data instanceof Int32Array) return toBytes(data, 4);
      return bad();
    case "I64":
      if (data instanceof BigInt64Array) return toBytes(data, 8);
      if (data instanceof Int32Array) {
        const wide = new BigInt64Array(data.length);
        for (let i = 0; i < data.length; i++) wide[i] = BigInt(data[i]);
        return toBytes(wide, 8);
      }
      return bad();
    default:
      throw new Error(
        `tensor ${show(name)}: unknown dtype ${show(dtype)} (supported: ${DTYPES.join(", ")})`,
      );
  }
}

/**
 * Serialize tensors (and optional string metadata) to safetensors bytes. Tensors are laid
 * out contiguously in the given order; the header is space-padded so the data area starts
 * at an 8-byte aligned offset.
 *
 * @param entries Tensors by name (`"__metadata__"` is reserved).
 * @param metadata Optional `__metadata__` string map.
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "@lossforge/core";
 * const bytes = encodeSafetensors({
 *   w: { dtype: "F32", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
 * }, { format: "pt" });
 * console.log(decodeSafetensors(bytes).tensors.w.data); // Float32Array [1, 2, 3, 4]
 * ```
 */
export function encodeSafetensors(
  entries: Record<string, SafetensorsEntry>,
  metadata?: Record<string, string>,
): Uint8Array {
  // entries + Object.fromEntries: a tensor named "__proto__" stays an own property
  const header: [string, unknown][] = [];
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new Error(`__metadata__[${show(k)}] must be a string, got ${show(v)}`);
      }
    }
    header.push(["__metadata__", metadata]);
  }
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, e] of Object.entries(entries)) {
    if (name === "__metadata__") throw new Error(`tensor name "__metadata__" is reserved`);
    if (!DTYPES.includes(e.dtype)) {
      throw new Error(
        `tensor ${show(name)}: unknown dtype ${show(e.dtype)} (supported: ${DTYPES.join(", ")})`,
      );
    }
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(
        `tensor ${show(name)}: shape must be non-negative integers, got ${show(e.shape)}`,
      );
    }
    const n = numel(e.shape);
    if (e.data.length !== n) {
      throw new Error(
        `tensor ${show(name)}: shape ${
          show(e.shape)
        } has ${n} elements but data has ${e.data.length}`,
      );
    }
    const bytes = entryBytes(name, e);
    header.push([name, {
      dtype: e.dtype,
      shape: e.shape,
      data_offsets: [offset, offset + bytes.length],
    }]);
    blobs.push(bytes);
    offset += bytes.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(Object.fromEntries(header)));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let o = 8 + json.length;
  for (const b of blobs) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Decoding

/** Parse and validate the JSON header bytes against a data area of `dataLength` bytes. */
function parseHeader(
  headerBytes: Uint8Array,
  dataStart: number,
  dataLength: number,
  src: string,
): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    throw new Error(`${src}: safetensors header is not valid UTF-8`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${src}: safetensors header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(parsed)) {
    throw new Error(`${src}: safetensors header must be a JSON object, got ${show(parsed)}`);
  }
  const metadataList: [string, string][] = [];
  const tensorList: [string, SafetensorsHeaderEntry][] = [];
  for (const [name, v] of Object.entries(parsed)) {
    if (name === "__metadata__") {
      if (!isObject(v)) throw new Error(`${src}: __metadata__ must be an object, got ${show(v)}`);
      for (const [k, s] of Object.entries(v)) {
        if (typeof s !== "string") {
          throw new Error(`${src}: __metadata__[${show(k)}] must be a string, got ${show(s)}`);
        }
        metadataList.push([k, s]);
      }
      continue;
    }
    const where = `${src}: tensor ${show(name)}`;
    if (!isObject(v)) throw new Error(`${where}: header entry must be an object, got ${show(v)}`);
    const dtype = v.dtype;
    if (typeof dtype !== "string" || !DTYPES.includes(dtype as SafetensorsDtype)) {
      const known = typeof dtype === "string" && OTHER_DTYPES.includes(dtype);
      throw new Error(
        `${where}: ${known ? "unsupported" : "unknown"} dtype ${show(dtype)} (supported: ${
          DTYPES.join(", ")
        })`,
      );
    }
    const shape = v.shape;
    if (
      !Array.isArray(shape) ||
      !shape.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0)
    ) {
      throw new Error(
        `${where}: shape must be an array of non-negative integers, got ${show(shape)}`,
      );
    }
    const off = v.data_offsets;
    if (
      !Array.isArray(off) || off.length !== 2 ||
      !off.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0)
    ) {
      throw new Error(
        `${where}: data_offsets must be [begin, end] non-negative integers, got ${show(off)}`,
      );
    }
    const [begin, end] = off as [number, number];
    if (begin > end || end > dataLength) {
      throw new Error(
        `${where}: data_offsets ${show(off)} lie outside the data area of ${dataLength} bytes`,
      );
    }
    const expected = numel(shape as number[]) * DTYPE_SIZE[dtype as SafetensorsDtype];
    if (end - begin !== expected) {
      throw new Error(
        `${where}: data_offsets ${show(off)} span ${end - begin} bytes but ${dtype} × ${
          show(shape)
        } needs ${expected}`,
      );
    }
    tensorList.push([name, {
      dtype: dtype as SafetensorsDtype,
      shape: shape as number[],
      data_offsets: [begin, end],
    }]);
  }
  // overlaps and holes
  const spans = tensorList.map(([n, t]) => [n, ...t.data_offsets] as const)
    .sort((a, b) => a[1] - b[1] || a[2] - b[2]);
  let cursor = 0;
  let prevName = "";
  for (const [name, begin, end] of spans) {
    if (begin < cursor) {
      throw new Error(
        `${src}: tensor ${show(name)}: data_offsets [${begin}, ${end}] overlap tensor ${
          show(prevName)
        } (which ends at ${cursor})`,
      );
    }
    if (begin > cursor) {
      throw new Error(
        `${src}: tensor ${
          show(name)
        }: data_offsets [${begin}, ${end}] leave a hole at bytes [${cursor}, ${begin}) of the data area`,
      );
    }
    cursor = end;
    prevName = name;
  }
  if (cursor !== dataLength) {
    throw new Error(
      `${src}: data area has ${dataLength} bytes but tensors cover only ${cursor} (trailing bytes)`,
    );
  }
  return {
    tensors: Object.fromEntries(tensorList),
    metadata: Object.fromEntries(metadataList),
    dataStart,
    dataLength,
  };
}

function readHeaderLength(prefix: Uint8Array, fileLength: number, src: string): number {
  if (fileLength < 8) {
    throw new Error(`${src}: file is ${fileLength} bytes, shorter than the 8-byte header length`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(fileLength - 8)) {
    throw new Error(
      `${src}: header length ${n} goes beyond the end of the file (${fileLength} bytes)`,
    );
  }
  if (n > BigInt(MAX_HEADER)) {
    throw new Error(`${src}: header length ${n} exceeds the ${MAX_HEADER}-byte limit`);
  }
  return Number(n);
}

/** The half dtype of a stored F16/BF16 tensor. */
function halfOf(dtype: SafetensorsDtype): HalfDType | null {
  return dtype === "BF16" ? "bfloat16" : dtype === "F16" ? "float16" : null;
}

/** Swaps the bytes of each `size`-byte element of `bytes` in place (big-endian hosts). */
function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

/**
 * The typed array a tensor of `t` is returned in, and whether its bytes are the stored
 * bytes as they are (so they can be read straight into it). Widened halves and I64 go
 * through a staging step instead.
 */
function destination(
  t: SafetensorsHeaderEntry,
  half: "float32" | "keep",
): { data: DecodedTensor["data"]; direct: boolean } {
  const n = numel(t.shape);
  switch (t.dtype) {
    case "F32":
      return { data: new Float32Array(n), direct: true };
    case "F64":
      return { data: new Float64Array(n), direct: true };
    case "I32":
      return { data: new Int32Array(n), direct: true };
    case "F16":
    case "BF16":
      return half === "keep"
        ? { data: new Uint16Array(n), direct: true }
        : { data: new Float32Array(n), direct: false };
    case "I64":
      return { data: new Int32Array(n), direct: false };
  }
}

/** I64 values (little-endian bytes) narrowed into `out[at..]`, range-checked. */
function narrowI64(
  bytes: Uint8Array,
  out: Int32Array,
  at: number,
  name: string,
  src: string,
): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < bytes.length / 8; i++) {
    const v = view.getBigInt64(i * 8, true);
    if (v > 2147483647n || v < -2147483648n) {
      throw new Error(
        `${src}: tensor ${show(name)}: I64 value ${v} at index ${at + i} does not fit in Int32`,
      );
    }
    out[at + i] = Number(v);
  }
}

/** Staged elements per step when widening halves or narrowing I64 (a few MB). */
const STAGE_ELEMENTS = 1 << 20;

/**
 * Decodes one tensor from its stored bytes. The generator yields `[bytes, offset]`: the
 * caller fills `bytes` with the `bytes.length` stored bytes that start `offset` bytes into
 * the tensor's data (from memory or from a file), then resumes it. Stored bytes go straight
 * into the returned array where they are its own; halves to widen and I64 pass through a
 * small staging buffer, one slice at a time.
 */
function* decodeSteps(
  t: SafetensorsHeaderEntry,
  half: "float32" | "keep",
  name: string,
  src: string,
): Generator<[Uint8Array, number], DecodedTensor, void> {
  const { data, direct } = destination(t, half);
  const size = DTYPE_SIZE[t.dtype];
  if (direct) {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    yield [bytes, 0];
    if (!LITTLE_ENDIAN && size > 1) swapBytes(bytes, size);
    return { dtype: t.dtype, shape: t.shape, data };
  }
  const n = data.length, step = Math.min(n, STAGE_ELEMENTS);
  const stage = new Uint8Array(step * size);
  const bits = new Uint16Array(stage.buffer);
  for (let e0 = 0; e0 < n; e0 += step) {
    const len = Math.min(step, n - e0);
    const part = stage.subarray(0, len * size);
    yield [part, e0 * size];
    if (!LITTLE_ENDIAN) swapBytes(part, size);
    const h = halfOf(t.dtype);
    if (h) widenHalfInto(bits, h, data as Float32Array, e0, 0, len);
    else narrowI64(part, data as Int32Array, e0, name, src);
  }
  return { dtype: t.dtype, shape: t.shape, data };
}

/**
 * Decode safetensors bytes. Everything is validated before any tensor is converted: a file
 * shorter than 8 bytes, a header length beyond the file, invalid JSON, unknown dtypes,
 * data_offsets outside the data area / overlapping / leaving holes / not matching
 * dtype × shape all throw an error naming `source` and the tensor.
 *
 * @param bytes The file contents.
 * @param options `source` names the file in error messages.
 * @example
 * ```ts
 * import { decodeSafetensors } from "@lossforge/core";
 * const { tensors, metadata } = decodeSafetensors(await Deno.readFile("model.safetensors"), {
 *   source: "model.safetensors",
 * });
 * for (const [name, t] of Object.entries(tensors)) console.log(name, t.dtype, t.shape);
 * ```
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  options: SafetensorsReadOptions = {},
): DecodedSafetensors {
  return parsing(() => decodeBytes(bytes, options));
}

function decodeBytes(bytes: Uint8Array, options: SafetensorsReadOptions): DecodedSafetensors {
  const src = options.source ?? "<safetensors bytes>";
  const n = readHeaderLength(bytes, bytes.length, src);
  const header = parseHeader(bytes.subarray(8, 8 + n), 8 + n, bytes.length - 8 - n, src);
  const data = bytes.subarray(8 + n);
  const converted: [string, DecodedTensor][] = [];
  for (const [name, t] of Object.entries(header.tensors)) {
    const steps = decodeSteps(t, options.half ?? "float32", name, src);
    let step = steps.next();
    for (; !step.done; step = steps.next()) {
      const [dst, off] = step.value, at = t.data_offsets[0] + off;
      dst.set(data.subarray(at, at + dst.length));
    }
    converted.push([name, step.value]);
  }
  return { tensors: Object.fromEntries(converted), metadata: header.metadata };
}

function pathString(path: string | URL): string {
  return path instanceof URL ? decodeURIComponent(path.pathname) : path;
}

/**
 * Read and decode a `.safetensors` file: the header first, then each tensor read from the
 * file straight into the typed array it is returned in (halves widened through a small
 * staging buffer), so the file is never held in memory beside its tensors: peak memory is
 * about the size of the decoded tensors.
 *
 * @param path File path or file URL.
 * @param options `half: "keep"` returns F16/BF16 tensors as raw `Uint16Array` bits.
 * @example
 * ```ts
 * import { readSafetensorsFile } from "@lossforge/core";
 * const { tensors } = await readSafetensorsFile("models/tiny-llama-hf/model.safetensors");
 * console.log(tensors["lm_head.weight"].shape); // [600, 64]
 * ```
 */
export async function readSafetensorsFile(
  path: string | URL,
  options: Omit<SafetensorsReadOptions, "source"> = {},
): Promise<DecodedSafetensors> {
  return await parsingAsync(() => readFileChecked(path, options));
}

async function readFileChecked(
  path: string | URL,
  options: Omit<SafetensorsReadOptions, "source">,
): Promise<DecodedSafetensors> {
  const src = pathString(path);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw new Error(`${src}: cannot read safetensors file: ${(e as Error).message}`);
  }
  try {
    const header = await readHeaderFrom(file, src);
    // In file order, so the reads go front to back.
    const order = Object.entries(header.tensors)
      .sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
    const decoded = new Map<string, DecodedTensor>();
    for (const [name, t] of order) {
      const steps = decodeSteps(t, options.half ?? "float32", name, src);
      let step = steps.next();
      for (; !step.done; step = steps.next()) {
        const [dst, off] = step.value;
        await file.seek(header.dataStart + t.data_offsets[0] + off, Deno.SeekMode.Start);
        await readExactly(file, dst, src, `tensor ${show(name)}`);
      }
      decoded.set(name, step.value);
    }
    const tensors = Object.fromEntries(
      Object.keys(header.tensors).map((name) => [name, decoded.get(name)!]),
    );
    return { tensors, metadata: header.metadata };
  } catch (e) {
    const msg = (e as Error).message;
    throw msg.startsWith(src) ? e : new Error(`${src}: cannot read safetensors file: ${msg}`);
  } finally {
    file.close();
  }
}

/**
 * Encode tensors and write them atomically: the bytes go to `path + ".tmp-<random>"`,
 * which is then renamed over `path` (the temp file is removed on failure).
 *
 * @param path Destination path.
 * @param entries Tensors by name.
 * @param metadata Optional `__metadata__` string map.
 * @example
 * ```ts
 * import { writeSafetensorsFile } from "@lossforge/core";
 * await writeSafetensorsFile("out.safetensors", {
 *   bias: { dtype: "F32", shape: [3], data: new Float32Array([0, 1, 2]) },
 * }, { format: "pt" });
 * ```
 */
export async function writeSafetensorsFile(
  path: string | URL,
  entries: Record<string, SafetensorsEntry>,
  metadata?: Record<string, string>,
): Promise<void> {
  const dest = pathString(path);
  const bytes = encodeSafetensors(entries, metadata);
  const rand = Array.from(crypto.getRandomValues(new Uint8Array(6)))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  const tmp = `${dest}.tmp-${rand}`;
  try {
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, dest);
  } catch (e) {
    try {
      await Deno.remove(tmp);
    } catch {
      // the temp file may not exist
    }
    throw new Error(`${dest}: cannot write safetensors file: ${(e as Error).message}`);
  }
}

async function readExactly(
  file: Deno.FsFile,
  buf: Uint8Array,
  src: string,
  what = "the header",
): Promise<void> {
  let got = 0;
  while (got < buf.length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) throw new Error(`${src}: unexpected end of file while reading ${what}`);
    got += n;
  }
}

/** Reads and validates the header of an open file (positioned anywhere). */
async function readHeaderFrom(file: Deno.FsFile, src: string): Promise<SafetensorsHeader> {
  const size = (await file.stat()).size;
  await file.seek(0, Deno.SeekMode.Start);
  const prefix = new Uint8Array(8);
  if (size >= 8) await readExactly(file, prefix, src);
  const n = readHeaderLength(prefix, size, src);
  const headerBytes = new Uint8Array(n);
  await readExactly(file, headerBytes, src);
  return parseHeader(headerBytes, 8 + n, size - 8 - n, src);
}

/**
 * Read and validate only the header of a `.safetensors` file (no tensor data is read),
 * e.g. to plan sharded loading.
 *
 * @param path File path or file URL.
 * @example
 * ```ts
 * import { readSafetensorsHeader } from "@lossforge/core";
 * const h = await readSafetensorsHeader("model-00001-of-00002.safetensors");
 * for (const [name, t] of Object.entries(h.tensors)) console.log(name, t.dtype, t.shape);
 * ```
 */
export async function readSafetensorsHeader(path: string | URL): Promise<SafetensorsHeader> {
  return await parsingAsync(() => readHeaderChecked(path));
}

async function readHeaderChecked(path: string | URL): Promise<SafetensorsHeader> {
  const src = pathString(path);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw new Error(`${src}: cannot open safetensors file: ${(e as Error).message}`);
  }
  try {
    return await readHeaderFrom(file, src);
  } finally {
    file.close();
  }
}

/**
 * Read `model.safetensors.index.json` from a directory and list its shard files.
 *
 * @param dir Directory holding the index and the shards.
 * @example
 * ```ts
 * import { loadShardedIndex } from "@lossforge/core";
 * const { shards, weightMap } = await loadShardedIndex("models/big-model/");
 * // shards: ["models/big-model/model-00001-of-00002.safetensors", ...]
 * ```
 */
export async function loadShardedIndex(dir: string | URL): Promise<ShardedIndex> {
  return await parsingAsync(() => readShardedIndex(dir));
}

async function readShardedIndex(dir: string | URL): Promise<ShardedIndex> {
  const base = pathString(dir).replace(/\/+$/, "");
  const indexPath = `${base}/model.safetensors.index.json`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await Deno.readTextFile(indexPath));
  } catch (e) {
    throw new Error(`${indexPath}: cannot read sharded index: ${(e as Error).message}`);
  }
  if (!isObject(parsed) || !isObject(parsed.weight_map)) {
    throw new Error(`${indexPath}: expected an object with a "weight_map" object`);
  }
  const weightList: [string, string][] = [];
  const shards: string[] = [];
  const seen = new Set<string>();
  for (const [name, file] of Object.entries(parsed.weight_map)) {
    if (typeof file !== "string" || file === "") {
      throw new Error(
        `${indexPath}: weight_map[${show(name)}] must be a file name, got ${show(file)}`,
      );
    }
    if (file.startsWith("/") || file.split(/[\\/]/).includes("..")) {
      throw new Error(`${indexPath}: weight_map[${show(name)}] = ${show(file)} escapes ${base}`);
    }
    weightList.push([name, file]);
    if (!seen.has(file)) {
      seen.add(file);
      shards.push(`${base}/${file}`);
    }
  }
  const metadata = isObject(parsed.metadata) ? parsed.metadata : {};
  return { shards, weightMap: Object.fromEntries(weightList), metadata };
}

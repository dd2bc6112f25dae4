/**
 * WGSL snippets and host helpers shared by the kernels: the uniform params block, NaN-safe
 * float helpers that follow the CPU oracle (JavaScript semantics), and dimension collapsing
 * so that index arithmetic runs over as few axes as possible.
 * @module
 */
import type { DType } from "../../autograd/dtype.ts";
import { DTypeError, fmtShape, ShapeError } from "../../autograd/errors.ts";
import { sizeOf } from "../../autograd/shape.ts";
import { type Engine, type GpuBuffer, PARAM_WORDS } from "../engine.ts";

/** Threads per workgroup of the 1D kernels. */
export const WG = 256;
/** Axes a kernel's index arithmetic handles after collapsing. */
export const MAX_RANK = 8;

/** The WGSL scalar type of a dtype (float64 never reaches the GPU). */
export function wgslType(op: string, dtype: DType): "f32" | "i32" {
  if (dtype === "float32") return "f32";
  if (dtype === "int32") return "i32";
  if (dtype === "bfloat16" || dtype === "float16") {
    throw new DTypeError(
      `${op}: does not take ${dtype} buffers on webgpu (half precision is storage for frozen ` +
        `weights: matmul, gather, strided copies and cast read it)`,
    );
  }
  throw new DTypeError(`${op}: float64 exists on the cpu backend only, not on webgpu`);
}

/**
 * The params block at `binding`: 64 u32 words read with `P(i)` (uniform arrays need a 16-byte
 * stride, hence vec4s), plus `Pf`/`Pi` reinterpretations.
 */
export function paramsWgsl(binding: number): string {
  return `
struct Params { v: array<vec4<u32>, ${PARAM_WORDS / 4}> }
@group(0) @binding(${binding}) var<uniform> params: Params;
fn P(i: u32) -> u32 { return params.v[i >> 2u][i & 3u]; }
fn Pf(i: u32) -> f32 { return bitcast<f32>(P(i)); }
fn Pi(i: u32) -> i32 { return bitcast<i32>(P(i)); }
fn linear_group(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.y * nwg.x + wid.x; }
`;
}

/**
 * WebGPU's default `maxComputeWorkgroupsPerDimension`, which every adapter allows: kernels
 * dispatched through `runKernel` (which takes the grid as given) fold larger grids into a
 * second dimension with `grid2d` and read their linear workgroup with `linear_group`.
 */
export const MAX_WORKGROUPS_PER_DIM = 65535;

/**
 * A grid of `groups` workgroups folded into two dimensions within MAX_WORKGROUPS_PER_DIM
 * (`linear_group(wid, nwg)` in WGSL recovers the linear index; the last row may overhang).
 *
 * @example
 * ```ts
 * import { grid2d } from "./common.ts";
 * console.log(grid2d(70_000)); // [65535, 2]
 * ```
 */
export function grid2d(groups: number): [number, number] {
  return [Math.min(groups, MAX_WORKGROUPS_PER_DIM), Math.ceil(groups / MAX_WORKGROUPS_PER_DIM)];
}

/** A fresh params block of PARAM_WORDS words (what `paramsWgsl` declares), all zero. */
export function params(): Uint32Array {
  return new Uint32Array(PARAM_WORDS);
}

/** The entry point of a 1D kernel with `WG` threads; `i` is the global thread index. */
export const MAIN_1D = `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_group(wid, nwg) * ${WG}u + lid;`;

/** A storage array a generated kernel binds: its WGSL name and element type. */
export type WgslArray = readonly [name: string, type: string];

/** f32 storage arrays named `names`, for a kernel's inputs or outputs. */
export function f32Arrays(...names: string[]): WgslArray[] {
  return names.map((name) => [name, "f32"]);
}

/** What `kernelWgsl` writes: the bindings, helpers, how threads map to work, and the body. */
export interface KernelWgsl {
  /** Read-only storage arrays, from binding 0. */
  inputs: readonly WgslArray[];
  /** Read-write storage arrays, after the inputs; the params block follows them. */
  outputs: readonly WgslArray[];
  /** WGSL between the bindings and `main`: functions, constants, workgroup arrays. */
  helpers?: string;
  /**
   * How threads map to work: "element" (default), one thread per element in workgroups of WG
   * (MAIN_1D); "row", one workgroup per row; "serialRow", one thread per row; "free", a grid
   * the body reads itself from `wid` and `nwg` (no index and no bound check). `lid` is the
   * thread's index in its workgroup.
   */
  grid?: "element" | "row" | "serialRow" | "free";
  /** Threads per workgroup for "row", "serialRow" and "free" (default WG). */
  threads?: number;
  /** The name of the work index in the body (default `i` for "element", `row` otherwise). */
  index?: string;
  /** The WGSL count the index is bounded by (default `P(0)`). */
  count?: string;
  /** The statements of `main` after the bound check. */
  body: string;
}

/**
 * The WGSL of a generated kernel in the engine's binding layout (`Engine.kernel`): inputs
 * read-only from binding 0, outputs read-write, the params block last, then `main` with its
 * bound check, so each kernel file writes only its helpers and body.
 *
 * @example
 * ```ts
 * import { kernelWgsl } from "./common.ts";
 * const double = kernelWgsl({
 *   inputs: [["a", "f32"]],
 *   outputs: [["o", "f32"]],
 *   body: "o[i] = 2.0 * a[i];",
 * });
 * console.log(double.includes("var<storage, read_write> o")); // true: a at binding 0, o at 1
 * ```
 */
export function kernelWgsl(spec: KernelWgsl): string {
  const arrays = [
    ...spec.inputs.map(([name, type]) => `var<storage, read> ${name}: array<${type}>;`),
    ...spec.outputs.map(([name, type]) => `var<storage, read_write> ${name}: array<${type}>;`),
  ].map((decl, k) => `@group(0) @binding(${k}) ${decl}`);
  const grid = spec.grid ?? "element";
  const threads = spec.threads ?? WG;
  const index = spec.index ?? (grid === "element" ? "i" : "row");
  const signature = `
@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {`;
  const first = grid === "row" ? "" : ` * ${threads}u + lid`;
  const entry = grid === "free" ? signature : `${signature}
  let ${index} = linear_group(wid, nwg)${first};
  if (${index} >= ${spec.count ?? "P(0)"}) { return; }`;
  return `${arrays.join("\n")}
${paramsWgsl(arrays.length)}
${spec.helpers ?? ""}
${entry}
  ${spec.body}
}`;
}

/**
 * Float helpers with the CPU oracle's edge cases made explicit: GPU builtins leave NaN,
 * infinities and out-of-domain inputs implementation-defined, JavaScript does not. NaN is
 * detected on the bits because a compiler may assume `x != x` is false.
 */
export const FLOAT_MATH = `
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn is_inf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
fn nan_f32() -> f32 { return bitcast<f32>(0x7fc00000u); }
fn inf_f32() -> f32 { return bitcast<f32>(0x7f800000u); }
fn exp_(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  if (x > 88.8) { return inf_f32(); }
  if (x < -104.0) { return 0.0; }
  return exp(x);
}
fn log_(x: f32) -> f32 {
  if (is_nan(x) || x < 0.0) { return nan_f32(); }
  if (x == 0.0) { return -inf_f32(); }
  if (is_inf(x)) { return x; }
  return log(x);
}
fn sqrt_(x: f32) -> f32 {
  if (is_nan(x) || x < 0.0) { return nan_f32(); }
  if (is_inf(x) || x == 0.0) { return x; }
  return sqrt(x);
}
fn rsqrt_(x: f32) -> f32 {
  if (is_nan(x) || x < 0.0) { return nan_f32(); }
  if (x == 0.0) { return select(inf_f32(), -inf_f32(), (bitcast<u32>(x) >> 31u) != 0u); }
  if (is_inf(x)) { return 0.0; }
  return 1.0 / sqrt(x);
}
fn sin_(x: f32) -> f32 { if (is_inf(x)) { return nan_f32(); } return sin(x); }
fn cos_(x: f32) -> f32 { if (is_inf(x)) { return nan_f32(); } return cos(x); }
// tanh: a Taylor polynomial near 0 (the exp form cancels there), the exp form elsewhere.
fn tanh_(x: f32) -> f32 {
  let a = abs(x);
  if (a < 0.55) {
    let z = x * x;
    return x * (1.0 + z * (-0.33333333333 + z * (0.13333333333 + z * (-0.05396825397 +
      z * (0.02186948854 + z * (-0.00886323553 + z * (0.00359212803 + z * (-0.00145583438 +
      z * 0.00059002744))))))));
  }
  if (a > 9.1) { return select(1.0, -1.0, x < 0.0); }
  let t = 1.0 - 2.0 / (exp(2.0 * a) + 1.0);
  return select(t, -t, x < 0.0);
}
fn sigmoid_(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp_(-x)); }
  let e = exp_(x);
  return e / (1.0 + e);
}
// GELU (tanh form): 0.5 x (1 + tanh u) = x / (1 + exp(-2u)), which stays accurate in both tails.
fn gelu_(x: f32) -> f32 {
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  return x / (1.0 + exp_(-2.0 * u));
}
fn is_int_(y: f32) -> bool { return !is_inf(y) && floor(y) == y; }
fn is_odd_(y: f32) -> bool { return is_int_(y) && abs(y) < 16777216.0 && (i32(y) & 1) != 0; }
// Math.pow semantics: NaN exponent -> NaN, zero exponent -> 1, negative base needs an integer
// exponent, |base| == 1 with an infinite exponent -> NaN.
fn pow_(x: f32, y: f32) -> f32 {
  if (is_nan(y)) { return y; }
  if (y == 0.0) { return 1.0; }
  if (is_nan(x)) { return x; }
  let ax = abs(x);
  if (ax == 1.0 && is_inf(y)) { return nan_f32(); }
  if (x < 0.0 && !is_inf(x) && !is_inf(y) && !is_int_(y)) { return nan_f32(); }
  var r: f32;
  if (ax == 0.0) { r = select(0.0, inf_f32(), y < 0.0); }
  else if (is_inf(ax)) { r = select(0.0, inf_f32(), y > 0.0); }
  else if (y == 1.0) { r = ax; }
  else if (y == 2.0) { r = ax * ax; }
  else {
    let l = y * log2(ax);
    if (l > 128.0) { r = inf_f32(); } else if (l < -150.0) { r = 0.0; } else { r = exp2(l); }
  }
  let neg = (bitcast<u32>(x) >> 31u) != 0u && is_odd_(y);
  return select(r, -r, neg);
}
fn max_(a: f32, b: f32) -> f32 {
  if (is_nan(a)) { return a; }
  if (is_nan(b)) { return b; }
  return select(b, a, a > b || (a == b && (bitcast<u32>(a) >> 31u) == 0u));
}
fn min_(a: f32, b: f32) -> f32 {
  if (is_nan(a)) { return a; }
  if (is_nan(b)) { return b; }
  return select(b, a, a < b || (a == b && (bitcast<u32>(a) >> 31u) != 0u));
}
// JavaScript's ToInt32 of trunc(x): NaN and infinities give 0, large values wrap mod 2^32.
fn f2i(x: f32) -> i32 {
  let bits = bitcast<u32>(x);
  let e = i32((bits >> 23u) & 0xffu) - 127;
  if (e < 31) { return i32(x); }
  if (e == 128) { return 0; }
  let sh = u32(e - 23);
  if (sh >= 32u) { return 0; }
  let v = bitcast<i32>(((bits & 0x7fffffu) | 0x800000u) << sh);
  return select(v, -v, (bits >> 31u) != 0u);
}
fn ipow(a: i32, b: i32) -> i32 {
  if (b < 0) {
    if (a == 1) { return 1; }
    if (a == -1) { return select(1, -1, (b & 1) != 0); }
    return 0;
  }
  var r = 1; var base = a; var e = b;
  loop {
    if (e == 0) { break; }
    if ((e & 1) != 0) { r = r * base; }
    base = base * base;
    e = e >> 1;
  }
  return r;
}
`;

/**
 * Drops size-1 axes and merges neighbours that every stride list walks contiguously, so the
 * kernels do index arithmetic over as few axes as possible. Returns at least one axis.
 */
export function collapse(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const s: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = s.length - 1;
    if (last >= 0 && strides.every((x, k) => st[k][last] === x[d] * shape[d])) {
      s[last] *= shape[d];
      strides.forEach((x, k) => (st[k][last] = x[d]));
    } else {
      s.push(shape[d]);
      strides.forEach((x, k) => st[k].push(x[d]));
    }
  }
  if (s.length === 0) {
    s.push(1);
    st.forEach((x) => x.push(0));
  }
  return { shape: s, strides: st };
}

/** Throws a ShapeError when a collapsed shape still has more axes than the kernels handle. */
export function checkRank(op: string, shape: readonly number[], original: readonly number[]) {
  if (shape.length > MAX_RANK) {
    throw new ShapeError(
      `${op}: webgpu handles at most ${MAX_RANK} non-contiguous axes, ${
        fmtShape(original)
      } has ${shape.length}`,
    );
  }
}

/** Writes `values` into `p` from word `at`, padding to `len` words with zeros. */
export function putWords(p: Uint32Array, at: number, values: readonly number[], len = 0): void {
  for (let i = 0; i < Math.max(values.length, len); i++) p[at + i] = values[i] ?? 0;
}

/** The bits of a float32 as a u32 (for passing floats through the u32 params block). */
export function f32Bits(v: number): number {
  return new Uint32Array(new Float32Array([v]).buffer)[0];
}

/** WGSL that computes `off<k>` for `i` over a collapsed shape at P(shapeAt..), strides at P(strideAt[k]..). */
export function offsetsWgsl(
  rankWord: number,
  shapeAt: number,
  strideAts: readonly number[],
  index = "i",
): string {
  const decl = strideAts.map((_, k) => `var off${k} = 0u;`).join(" ");
  const acc = strideAts.map((at, k) => `off${k} += c * P(${at}u + du);`).join(" ");
  return `
  ${decl}
  var rem = ${index};
  for (var d = i32(P(${rankWord}u)) - 1; d >= 0; d--) {
    let du = u32(d);
    let n = P(${shapeAt}u + du);
    let c = rem % n;
    rem = rem / n;
    ${acc}
  }`;
}

/**
 * How kernels pick their variant: by the adapter (a software adapter such as llvmpipe runs a
 * workgroup as a loop over SIMD lanes on one CPU thread, so barriers and idle lanes are costly
 * there, while a GPU wants workgroups that share memory). `software` forces one class of
 * adapter (tests use it to run each variant on any machine); null (the default) asks the
 * adapter. Whether a fused kernel runs at all is the fused policy's question
 * (`src/autograd/fused.ts`), not this one's.
 */
export const kernelPolicy: { software: boolean | null } = { software: null };

/** Whether kernels should be chosen for a software adapter on engine `e` (see kernelPolicy). */
export function softwareKernels(
  e: { ctx: { info: { isFallbackAdapter: boolean; description: string } } },
): boolean {
  const info = e.ctx.info;
  return kernelPolicy.software ??
    (info.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader/i.test(info.description));
}

/**
 * WGSL `matmul_offsets(batch, M, K, N)`: the element offsets of a's and b's matrices for output
 * matrix `batch`, from the collapsed batch shape and strides every matmul kernel's params carry
 * (rank at word 4, shape from 8, a's strides from 16, b's from 24; see `matmul` in matmul.ts).
 */
export const MATMUL_OFFSETS_WGSL = `
fn matmul_offsets(batch: u32, M: u32, K: u32, N: u32) -> vec2<u32> {
  var rem = batch; var aOff = 0u; var bOff = 0u;
  for (var d = i32(P(4u)) - 1; d >= 0; d--) {
    let du = u32(d); let n = P(8u + du); let c = rem % n; rem = rem / n;
    aOff += c * P(16u + du); bOff += c * P(24u + du);
  }
  return vec2<u32>(aOff * M * K, bOff * K * N);
}
`;

/** What the tiled matmul kernels' common head (`matmulHeadWgsl`) is made of. */
export interface MatmulHead {
  /** The element types of the bindings a, b (read) and o (read-write). */
  a: string;
  b: string;
  o: string;
  /** The element type of the workgroup tiles As and Bs, and their lengths. */
  tile: string;
  aTile: number;
  bTile: number;
  /** Threads per workgroup along x and y. */
  wx: number;
  wy: number;
  /** Rows and columns of the output tile a workgroup computes. */
  bm: number;
  bn: number;
}

/**
 * WGSL of a tiled matmul kernel up to its own code: the bindings, the params block and
 * `matmul_offsets`, the workgroup tiles, and `main`, opened with M, K, N, this workgroup's
 * batch and its element offsets (aOff, bOff, oOff) and its output tile's origin (row0, col0).
 */
export function matmulHeadWgsl(h: MatmulHead): string {
  return `@group(0) @binding(0) var<storage, read> a: array<${h.a}>;
@group(0) @binding(1) var<storage, read> b: array<${h.b}>;
@group(0) @binding(2) var<storage, read_write> o: array<${h.o}>;
${paramsWgsl(3)}${MATMUL_OFFSETS_WGSL}
var<workgroup> As: array<${h.tile}, ${h.aTile}>;
var<workgroup> Bs: array<${h.tile}, ${h.bTile}>;
@compute @workgroup_size(${h.wx}, ${h.wy})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let M = P(0); let K = P(1); let N = P(2);
  let batch = wid.z + P(3);
  let offs = matmul_offsets(batch, M, K, N); let aOff = offs.x; let bOff = offs.y;
  let oOff = batch * M * N;
  let row0 = wid.y * ${h.bm}u; let col0 = wid.x * ${h.bn}u;`;
}

/**
 * WGSL `at(row, k)`: the element index of position k along the axis of "row" `row` (one of
 * outer x inner rows) of a contiguous tensor viewed as [outer, P(1), inner], P(2) = inner
 * (the row kernels of softmax and argmax walk an axis in place this way).
 */
export const AXIS_AT_WGSL = `
fn at(row: u32, k: u32) -> u32 {
  let inner = P(2);
  let outer = row / inner;
  return (outer * P(1) + k) * inner + (row - outer * inner);
}`;

/**
 * The rows along `axis` of a contiguous tensor of `shape` as the row kernels walk them with
 * AXIS_AT_WGSL: `rows` (outer x inner) rows of `len`, and the params block with P(0) = rows,
 * P(1) = len, P(2) = inner.
 */
export function axisRows(
  shape: readonly number[],
  axis: number,
): { rows: number; len: number; p: Uint32Array } {
  const len = shape[axis], inner = sizeOf(shape.slice(axis + 1));
  const rows = sizeOf(shape.slice(0, axis)) * inner;
  const p = params();
  p[0] = rows;
  p[1] = len;
  p[2] = inner;
  return { rows, len, p };
}

/** A one-input kernel over rows, in the variant `serial` picks (see `runRows`). */
export interface RowsKernel extends Pick<KernelWgsl, "inputs" | "outputs"> {
  /** The kernel's cache key in each variant. */
  key: (variant: "serial" | "wg") => string;
  /** WGSL helpers of both variants. */
  helpers: string;
  /** The workgroup variant's extra helpers (its workgroup arrays). */
  wgHelpers: string;
  /** One thread per row (the body's row is `i`), else one workgroup per row (`row`, `lid`). */
  serial: boolean;
  /** The chosen variant's body. */
  body: () => string;
}

/** Runs `spec` over `rows` rows of `a` into `out` with params `p`; returns `out`. */
export function runRows(
  e: Engine,
  op: string,
  spec: RowsKernel,
  a: GpuBuffer,
  out: GpuBuffer,
  p: Uint32Array,
  rows: number,
): GpuBuffer {
  const k = e.kernel(
    spec.key(spec.serial ? "serial" : "wg"),
    () =>
      kernelWgsl({
        inputs: spec.inputs,
        outputs: spec.outputs,
        helpers: spec.serial ? spec.helpers : `${spec.helpers}
${spec.wgHelpers}`,
        grid: spec.serial ? "element" : "row",
        body: spec.body(),
      }),
    1,
    1,
  );
  e.dispatch(op, k, [a], [out], p, spec.serial ? Math.ceil(rows / WG) : rows);
  return out;
}

/**
 * WGSL of a workgroup tree reduction: stores `value` in the workgroup array `arr` at `lid`,
 * then combines halves (`combine(a, b)` on WGSL expressions) until `arr[0]` holds the result
 * for the whole workgroup of `size` threads (every thread must reach it: it has barriers).
 */
export function workgroupReduceWgsl(
  arr: string,
  value: string,
  combine: (a: string, b: string) => string,
  size = WG,
): string {
  return `${arr}[lid] = ${value};
  workgroupBarrier();
  for (var s = ${size / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { ${arr}[lid] = ${combine(`${arr}[lid]`, `${arr}[lid + s]`)}; }
    workgroupBarrier();
  }`;
}

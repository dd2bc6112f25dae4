/**
 * Inclusive prefix sums along any axis. Short rows (or very many rows) scan serially, one
 * thread per row. Long rows use one workgroup per row: each thread sums a contiguous chunk,
 * a Hillis-Steele scan over the chunk sums in workgroup memory gives each chunk its offset,
 * and each thread rescans its chunk writing the results: one dispatch, O(len / 256) steps.
 * @module
 */
import type { DType } from "../../autograd/dtype.ts";
import { sizeOf } from "../../autograd/shape.ts";
import type { Engine, GpuBuffer } from "../engine.ts";
import { axisRows, runRows, WG, wgslType } from "./common.ts";

/** cumsum of `a` along `axis`; `reverse` sums from the end. */
export function cumsum(
  e: Engine,
  a: GpuBuffer,
  shape: readonly number[],
  axis: number,
  reverse: boolean,
  dtype: DType,
): GpuBuffer {
  const t = wgslType("cumsum", dtype);
  const n = sizeOf(shape);
  const out = e.alloc("cumsum", n * 4);
  if (n === 0) return out;
  const { rows, len, p } = axisRows(shape, axis);
  p[3] = reverse ? 1 : 0;
  const at = `// Element k (in scan order) of row r: reverse scans walk the axis backwards.
fn at(row: u32, k: u32) -> u32 {
  let inner = P(2);
  let outer = row / inner;
  let kk = select(k, P(1) - 1u - k, P(3) != 0u);
  return (outer * P(1) + kk) * inner + (row - outer * inner);
}`;
  const serial = len <= 64 || rows >= 4096;
  return runRows(
    e,
    "cumsum",
    {
      inputs: [["x", t]],
      outputs: [["o", t]],
      key: (variant) => `cumsum_${variant}_${t}`,
      helpers: at,
      wgHelpers: `var<workgroup> part: array<${t}, ${WG}>;`,
      serial,
      body: () =>
        serial
          ? `var s = ${t}(0);
  for (var k = 0u; k < P(1); k++) { let j = at(i, k); s += x[j]; o[j] = s; }`
          : `let len = P(1);
  let chunk = (len + ${WG - 1}u) / ${WG}u;
  let k0 = min(lid * chunk, len);
  let k1 = min(k0 + chunk, len);
  var s = ${t}(0);
  for (var k = k0; k < k1; k++) { s += x[at(row, k)]; }
  part[lid] = s;
  workgroupBarrier();
  for (var d = 1u; d < ${WG}u; d <<= 1u) {
    var v = part[lid];
    if (lid >= d) { v += part[lid - d]; }
    workgroupBarrier();
    part[lid] = v;
    workgroupBarrier();
  }
  var run = ${t}(0);
  if (lid > 0u) { run = part[lid - 1u]; }
  for (var k = k0; k < k1; k++) { let j = at(row, k); run += x[j]; o[j] = run; }`,
    },
    a,
    out,
    p,
    rows,
  );
}

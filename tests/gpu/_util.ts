// Shared helpers of the WebGPU tests: run the same computation on the cpu and webgpu
// backends and compare, with float32 tolerances. Every GPU readback costs about 11 ms on the
// software adapter, so reads are batched with Promise.all and property runs stay modest.
import fc from "fast-check";
import {
  backendInstance,
  type BackendName,
  type DType,
  initBackend,
  scope,
  type Tensor,
  tensor,
  type TypedArray,
  valueAndGrad,
} from "../../mod.ts";
import type { EngineBackend } from "../../src/gpu/backend.ts";

/** Deno.test for GPU code: WebGPU keeps device-level promises alive across tests. */
export function gpuTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      await initBackend("webgpu");
      try {
        await fn();
      } finally {
        await settleGpu();
      }
    },
  });
}

/**
 * Waits until the GPU has finished everything submitted, so no test leaves work in flight
 * for the next one (or for process exit) when the op sanitizer is off.
 */
export async function settleGpu(): Promise<void> {
  await (backendInstance("webgpu") as EngineBackend).engine.done();
}

/** Runs `fn` with the engine's binding limit lowered to `bytes`. */
export async function withBindingLimit<T>(
  bytes: number,
  fn: () => T | Promise<T>,
): Promise<T> {
  const e = (backendInstance("webgpu") as EngineBackend).engine;
  const saved = e.maxStorageBinding;
  e.maxStorageBinding = bytes;
  try {
    return await fn();
  } finally {
    e.maxStorageBinding = saved;
  }
}

/** Property runs per test (each costs a few readbacks). */
export const RUNS = 20;

/** Tolerances for a comparison. */
export interface Tol {
  rtol?: number;
  atol?: number;
}

/** Default float32 tolerance. */
export const TOL: Tol = { rtol: 1e-4, atol: 1e-5 };
/** Looser tolerance for transcendental ops and long float32 accumulations. */
export const LOOSE: Tol = { rtol: 3e-4, atol: 1e-4 };

/** Throws unless `a` matches `e` elementwise (NaN matches NaN, infinities must be equal). */
export function assertAllClose(a: ArrayLike<number>, e: ArrayLike<number>, tol: Tol, what: string) {
  const rtol = tol.rtol ?? 1e-4, atol = tol.atol ?? 1e-5;
  if (a.length !== e.length) throw new Error(`${what}: length ${a.length} vs ${e.length}`);
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = e[i];
    const ok = Number.isNaN(y)
      ? Number.isNaN(x)
      : !Number.isFinite(y)
      ? x === y
      : Math.abs(x - y) <= atol + rtol * Math.abs(y);
    if (!ok) {
      throw new Error(
        `${what}: element ${i} is ${x} on webgpu, ${y} on cpu (rtol ${rtol}, atol ${atol})\n` +
          `  webgpu: ${Array.from(a).slice(0, 16).join(", ")}\n` +
          `  cpu:    ${Array.from(e).slice(0, 16).join(", ")}`,
      );
    }
  }
}

/** Host data for one input tensor. */
export interface HostTensor {
  data: TypedArray;
  shape: number[];
}

/** Makes a host tensor (float32 unless the data says otherwise). */
export function host(
  data: ArrayLike<number>,
  shape: number[],
  dtype: DType = "float32",
): HostTensor {
  const d = dtype === "int32" ? Int32Array.from(data) : Float32Array.from(data);
  return { data: d, shape };
}

function place(inputs: HostTensor[], backend: BackendName): Tensor[] {
  return inputs.map((h) => tensor(h.data, { shape: h.shape, backend }));
}

async function readAll(ts: Tensor[]): Promise<TypedArray[]> {
  return await Promise.all(ts.map((t) => t.data()));
}

/**
 * Runs `f` on both backends with the same inputs and compares every output (shape, dtype,
 * values). Tensors made on the way are freed.
 */
export async function compareOn(
  what: string,
  inputs: HostTensor[],
  f: (...xs: Tensor[]) => Tensor | Tensor[],
  tol: Tol = TOL,
): Promise<void> {
  const results: TypedArray[][] = [];
  const shapes: string[][] = [];
  for (const backend of ["cpu", "webgpu"] as const) {
    const xs = place(inputs, backend);
    const outs = scope(() => {
      const r = f(...xs);
      return Array.isArray(r) ? r : [r];
    });
    shapes.push(outs.map((t) => `${t.dtype}[${t.shape}]`));
    results.push(await readAll(outs));
    for (const t of [...xs, ...outs]) t.dispose();
  }
  const [cpu, gpu] = results;
  if (shapes[0].join() !== shapes[1].join()) {
    throw new Error(`${what}: outputs ${shapes[1]} on webgpu, ${shapes[0]} on cpu`);
  }
  for (let i = 0; i < cpu.length; i++) assertAllClose(gpu[i], cpu[i], tol, `${what} output ${i}`);
}

/** Deterministic pseudo-random weights (so both backends see the same ones). */
export function weights(n: number, seed: number): Float32Array {
  const w = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    w[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return w;
}

/**
 * Compares the value and the gradients of sum(f(xs) * w) (w random, fixed) with respect to
 * the inputs listed in `diff` (indices into `inputs`) between the two backends.
 */
export async function compareGrad(
  what: string,
  inputs: HostTensor[],
  diff: number[],
  f: (...xs: Tensor[]) => Tensor,
  tol: Tol = TOL,
  seed = 1,
): Promise<void> {
  const results: TypedArray[][] = [];
  for (const backend of ["cpu", "webgpu"] as const) {
    const xs = place(inputs, backend);
    const outs = scope(() => {
      const loss = (ps: Tensor[]) => {
        const all = [...xs];
        diff.forEach((d, i) => (all[d] = ps[i]));
        const y = f(...all);
        const w = tensor(weights(y.size, seed), { shape: [...y.shape], backend });
        return y.mul(w).sum();
      };
      const [v, g] = valueAndGrad(loss)(diff.map((d) => xs[d]));
      return [v, ...g];
    });
    results.push(await readAll(outs));
    for (const t of [...xs, ...outs]) t.dispose();
  }
  const [cpu, gpu] = results;
  // The loss sums many products: compare it with a tolerance scaled by its terms.
  for (let i = 0; i < cpu.length; i++) {
    assertAllClose(gpu[i], cpu[i], tol, `${what} ${i === 0 ? "value" : `grad ${i - 1}`}`);
  }
}

// ------------------------------------------------------------------ arbitraries

/** A dimension: mostly small (0..5), sometimes past a workgroup size. */
export const dim: fc.Arbitrary<number> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 5 }) },
  { weight: 1, arbitrary: fc.integer({ min: 60, max: 300 }) },
);

/** A shape of rank min..max with at most `cap` elements. */
export function shapeArb(min = 0, max = 4, cap = 4096): fc.Arbitrary<number[]> {
  return fc.array(dim, { minLength: min, maxLength: max }).filter((s) =>
    s.reduce((a, b) => a * b, 1) <= cap
  );
}

/** A shape with no zero dimension. */
export function nonEmptyShapeArb(min = 1, max = 4, cap = 4096): fc.Arbitrary<number[]> {
  return shapeArb(min, max, cap).filter((s) => s.every((d) => d > 0));
}

/**
 * Float32 values in [-lim, lim]. Subnormals become 0: WGSL lets a GPU flush them to zero
 * (lavapipe does, e.g. in log), so they are not a meaningful comparison.
 */
export function finite(lim = 3): fc.Arbitrary<number> {
  return fc.float({ min: -lim, max: lim, noNaN: true, noDefaultInfinity: true }).map((x) =>
    Math.abs(x) < 1.1754943508222875e-38 ? 0 : x
  );
}

/** Float32 values with some NaN, ±Infinity and ±0 mixed in. */
export function special(lim = 3): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 12, arbitrary: finite(lim) },
    { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 0, -0) },
  );
}

/** Float32 data for `shape` drawn from `values`. */
export function dataFor(
  shape: number[],
  values: fc.Arbitrary<number> = finite(),
): fc.Arbitrary<HostTensor> {
  const n = shape.reduce((a, b) => a * b, 1);
  return fc.array(values, { minLength: n, maxLength: n }).map((d) => host(d, shape));
}

/** Int32 data for `shape` in [lo, hi]. */
export function intsFor(shape: number[], lo = -5, hi = 5): fc.Arbitrary<HostTensor> {
  const n = shape.reduce((a, b) => a * b, 1);
  return fc.array(fc.integer({ min: lo, max: hi }), { minLength: n, maxLength: n }).map((d) =>
    host(d, shape, "int32")
  );
}

/** `shape` with some axes set to 1 and some leading axes dropped (broadcasts to `shape`). */
export function broadcastOf(shape: number[]): fc.Arbitrary<number[]> {
  return fc.tuple(
    fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }),
    fc.integer({ min: 0, max: shape.length }),
  ).map(([ones, drop]) => shape.map((d, i) => (ones[i] ? 1 : d)).slice(drop));
}

/** Runs an async property `RUNS` times (or `runs`). */
export async function check<T>(
  arb: fc.Arbitrary<T>,
  prop: (v: T) => Promise<void>,
  runs = RUNS,
): Promise<void> {
  try {
    await fc.assert(fc.asyncProperty(arb, prop), { numRuns: runs, endOnFailure: true });
  } catch (e) {
    // Counterexamples hold whole arrays: keep the report readable.
    const m = (e as Error).message;
    throw new Error(m.length > 3000 ? m.slice(0, 1200) + "\n...\n" + m.slice(-1800) : m);
  }
}

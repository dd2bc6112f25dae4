// The fused Lovász hinge (analytic gradient, no tape through the sort) against the composed
// ops: value and gradient, on the CPU analytic path (float64) and on the WebGPU kernel
// (float32), over random shapes with rows of length 1, all-ignored rows, masks, both
// perSequence settings, at points where the sort order is unique.
import fc from "fast-check";
import { liveTensors, lovaszHinge, type Tensor, tensor, valueAndGrad } from "../../mod.ts";
import { type FusedPath, fusedPolicy, setFusedOps } from "../../src/autograd/fused.ts";
import { assert, assertClose, assertEquals } from "../_assert.ts";
import { refLovaszHinge } from "./_reference.ts";
import { gpuTest as sharedGpuTest } from "../gpu/_util.ts";

/** A hinge problem: logits and targets of one shape, an optional mask. */
interface HingeProblem {
  shape: number[];
  logits: number[];
  targets: number[];
  mask?: number[];
}

/** The smallest gap between two counted errors of one row (pooled: of all positions). */
function hingeGap(p: HingeProblem, perSequence: boolean): number {
  const len = perSequence ? p.shape[p.shape.length - 1] : p.logits.length;
  let gap = Infinity;
  for (let start = 0; start < p.logits.length; start += len) {
    const err: number[] = [];
    for (let i = start; i < start + len; i++) {
      if (p.targets[i] === -100 || (p.mask && p.mask[i] === 0)) continue;
      err.push(1 - p.logits[i] * (2 * p.targets[i] - 1));
    }
    err.sort((a, b) => a - b);
    for (let j = 1; j < err.length; j++) gap = Math.min(gap, err[j] - err[j - 1]);
    // Away from the relu kink too.
    for (const e of err) gap = Math.min(gap, Math.abs(e));
  }
  return gap;
}

/** Random problems: rank 1 to 3, last axis 1 to maxT, some rows all ignored. */
function hingeProblems(maxT = 12): fc.Arbitrary<HingeProblem> {
  return fc.record({
    lead: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 2 }),
    t: fc.integer({ min: 1, max: maxT }),
    seed: fc.integer({ min: 1, max: 2 ** 30 }),
    masked: fc.boolean(),
    ignoredRow: fc.boolean(),
  }).map(({ lead, t, seed, masked, ignoredRow }) => {
    const shape = [...lead, t];
    const size = shape.reduce((a, b) => a * b, 1);
    let s = seed;
    const next = () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648;
    };
    const logits = Array.from({ length: size }, () => (next() - 0.5) * 6);
    const targets = Array.from(
      { length: size },
      () => (next() < 0.15 ? -100 : next() < 0.5 ? 1 : 0),
    );
    if (ignoredRow) { for (let i = 0; i < t; i++) targets[i] = -100; }
    const mask = masked ? Array.from({ length: size }, () => (next() < 0.3 ? 0 : 1)) : undefined;
    return { shape, logits, targets, mask };
  });
}

/** Value and logits-gradient of the hinge, fused or composed, on a backend and dtype. */
async function hingeOn(
  p: HingeProblem,
  perSequence: boolean,
  fused: boolean | undefined,
  backend: "cpu" | "webgpu",
): Promise<{ value: number; grad: number[] }> {
  const dtype = backend === "cpu" ? "float64" : "float32";
  const z = tensor(p.logits, { shape: p.shape, dtype, backend });
  const t = tensor(p.targets, { shape: p.shape, dtype: "int32", backend });
  const mask = p.mask ? tensor(p.mask, { shape: p.shape, dtype, backend }) : undefined;
  const loss = lovaszHinge({ perSequence, fused });
  const [v, g] = valueAndGrad((x: Tensor) => loss(x, t, { mask }))(z);
  const [value, grad] = await Promise.all([v.item(), g.data()]);
  for (const x of [z, t, mask, v, g]) x?.dispose();
  return { value, grad: Array.from(grad) };
}

/** The reference value (float64, plain JS), with masked positions ignored. */
function reference(p: HingeProblem, perSequence: boolean): number {
  const targets = p.targets.map((t, i) => (p.mask && p.mask[i] === 0 ? -100 : t));
  const len = perSequence ? p.shape[p.shape.length - 1] : p.logits.length;
  const rows = (a: number[]) =>
    Array.from({ length: a.length / len }, (_, r) => a.slice(r * len, (r + 1) * len));
  return refLovaszHinge(rows(p.logits), rows(targets));
}

for (const perSequence of [true, false]) {
  const label = perSequence ? "perSequence" : "pooled";
  Deno.test(`lovaszHinge(${label}) fused on CPU: analytic value and gradient equal the composed ops`, async () => {
    await fc.assert(
      fc.asyncProperty(hingeProblems(), async (p) => {
        fc.pre(hingeGap(p, perSequence) > 1e-6);
        const fused = await hingeOn(p, perSequence, true, "cpu");
        const composed = await hingeOn(p, perSequence, false, "cpu");
        assertClose(fused.value, composed.value, { rtol: 1e-12, atol: 1e-14 });
        assertClose(fused.value, reference(p, perSequence), { rtol: 1e-10, atol: 1e-12 });
        assertClose(fused.grad, composed.grad, { rtol: 1e-12, atol: 1e-14 });
      }),
      { numRuns: 60 },
    );
  });
}

Deno.test("lovaszHinge fused on CPU: all ignored gives 0 with zero gradient; length-1 rows", async () => {
  const all = { shape: [2, 3], logits: [1, 2, 3, 4, 5, 6], targets: Array(6).fill(-100) };
  for (const perSequence of [true, false]) {
    const r = await hingeOn(all, perSequence, true, "cpu");
    assert(r.value === 0 && r.grad.every((g) => g === 0));
  }
  const ones = { shape: [3, 1], logits: [0.5, -2, 0.25], targets: [1, 1, 0] };
  for (const perSequence of [true, false]) {
    const fused = await hingeOn(ones, perSequence, true, "cpu");
    const composed = await hingeOn(ones, perSequence, false, "cpu");
    assertClose(fused.value, composed.value, { rtol: 1e-12 });
    assertClose(fused.grad, composed.grad, { rtol: 1e-12, atol: 1e-15 });
  }
});

/** A WebGPU test (initialises the backend, waits for the GPU at the end). */
function gpuTest(name: string, fn: () => Promise<void>): void {
  sharedGpuTest(`webgpu: ${name}`, fn);
}

const TOL = { rtol: 2e-4, atol: 2e-5 };

for (const perSequence of [true, false]) {
  const label = perSequence ? "perSequence" : "pooled";
  gpuTest(
    `lovaszHinge(${label}): fused kernel equals the composed ops (value and gradient)`,
    async () => {
      const before = liveTensors();
      await fc.assert(
        fc.asyncProperty(hingeProblems(), async (p) => {
          fc.pre(hingeGap(p, perSequence) > 1e-3);
          const fused = await hingeOn(p, perSequence, undefined, "webgpu"); // fused by default
          const composed = await hingeOn(p, perSequence, false, "webgpu");
          assertClose(fused.value, composed.value, TOL);
          assertClose(fused.value, reference(p, perSequence), TOL);
          assertClose(fused.grad, composed.grad, TOL);
        }),
        { numRuns: 12 },
      );
      assert(liveTensors() === before, `leaked ${liveTensors() - before} tensors`);
    },
  );
}

gpuTest(
  "lovaszHinge: fused kernel on long rows (several scan tiles), length-1 rows, all ignored",
  async () => {
    const long: HingeProblem = (() => {
      const shape = [3, 700];
      const logits = Array.from({ length: 2100 }, (_, i) => Math.sin(i * 12.9898) * 3);
      const targets = logits.map((_, i) => (i % 7 === 3 ? -100 : (i * 2654435761) % 5 < 2 ? 1 : 0));
      for (let i = 700; i < 1400; i++) targets[i] = -100; // the middle row is all ignored
      const mask = logits.map((_, i) => (i % 11 === 5 ? 0 : 1));
      return { shape, logits, targets, mask };
    })();
    const ones: HingeProblem = {
      shape: [4, 1],
      logits: [0.5, -2, 0.25, 3],
      targets: [1, 1, 0, -100],
    };
    const none: HingeProblem = {
      shape: [2, 2],
      logits: [1, 2, 3, 4],
      targets: [-100, -100, -100, -100],
    };
    for (const p of [long, ones, none]) {
      for (const perSequence of [true, false]) {
        const fused = await hingeOn(p, perSequence, true, "webgpu");
        const composed = await hingeOn(p, perSequence, false, "webgpu");
        assertClose(fused.value, composed.value, TOL);
        assertClose(fused.grad, composed.grad, TOL);
        if (p === none) assert(fused.value === 0 && fused.grad.every((g) => g === 0));
      }
    }
  },
);

/** Runs `fn` with fused ops off, recording the fused paths that asked the policy. */
async function withFusedOff<T>(fn: () => Promise<T>): Promise<{ out: T; asked: FusedPath[] }> {
  const choose = fusedPolicy.choose;
  const asked: FusedPath[] = [];
  fusedPolicy.choose = function (path, requested, byDefault) {
    asked.push(path);
    return choose.call(this, path, requested, byDefault);
  };
  setFusedOps(false);
  try {
    return { out: await fn(), asked };
  } finally {
    setFusedOps(true);
    fusedPolicy.choose = choose;
  }
}

const OFF_PROBLEM: HingeProblem = {
  shape: [2, 5],
  logits: [0.5, -2, 0.25, 3, 1.5, -0.7, 0.1, 2.2, -1.3, 0.9],
  targets: [1, 0, 1, -100, 0, 0, 1, 1, 0, 1],
  mask: [1, 1, 1, 1, 0, 1, 1, 1, 1, 1],
};

for (const backend of ["cpu", "webgpu"] as const) {
  const test = backend === "cpu"
    ? (name: string, fn: () => Promise<void>) => Deno.test(name, fn)
    : gpuTest;
  test(`lovaszHinge on ${backend} with fused ops off: fused: true takes the composed ops`, async () => {
    for (const perSequence of [true, false]) {
      const off = await withFusedOff(() => hingeOn(OFF_PROBLEM, perSequence, true, backend));
      assert(off.asked.includes("loss"), `the hinge should consult the policy: ${off.asked}`);
      const composed = await hingeOn(OFF_PROBLEM, perSequence, false, backend);
      assertEquals(off.out.value, composed.value);
      assertEquals(off.out.grad, composed.grad);
    }
  });
}

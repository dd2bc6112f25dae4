// The WebGPU flash-style attention kernels against the CPU (its fused reference loops, which
// tests/autograd/attention_test.ts checks against the composed form and finite differences):
// forward and gradients over random shapes with grouped-query heads, size-1 dimensions, masks
// shared by or per batch (causal, with random -1e9 entries), rows past one workgroup
// and keys past one tile, and head widths across the tile sizes.
import fc from "fast-check";
import { attend, backendInstance, scaledDotProductAttention, type Tensor } from "../../mod.ts";
import { kernelPolicy } from "../../src/gpu/kernels/common.ts";
import { assertEquals } from "../_assert.ts";
import { attentionTile } from "../../src/gpu/kernels/attention.ts";
import { type AttentionCase, attentionCaseArb, maskShape } from "../_attention_cases.ts";
import { compareGrad, compareOn, gpuTest, host, type HostTensor, LOOSE, weights } from "./_util.ts";

type Case = AttentionCase;

function inputsOf(c: Case): { xs: HostTensor[]; f: (...xs: Tensor[]) => Tensor } {
  const h = c.hkv * c.group;
  const xs = [
    host(weights(c.b * h * c.t * c.d, c.seed), [c.b, h, c.t, c.d]),
    host(weights(c.b * c.hkv * c.tk * c.d, c.seed + 1), [c.b, c.hkv, c.tk, c.d]),
    host(weights(c.b * c.hkv * c.tk * c.d, c.seed + 2), [c.b, c.hkv, c.tk, c.d]),
  ];
  if (c.mask !== "none") {
    const shape = maskShape(c);
    const n = shape.reduce((x, y) => x * y, 1);
    // A causal pattern (query i sees keys up to i + max(0, tk - t)), then random extra hiding,
    // never of key 0: a fully masked row's scores are -1e9 + s, which float32 rounds to -1e9
    // (uniform weights) where the float64 reference still sees s.
    const r = weights(n, c.seed + 3);
    const m = Array.from({ length: n }, (_, e) => {
      const j = e % c.tk, i = Math.floor(e / c.tk) % c.t;
      const hidden = j > i + Math.max(0, c.tk - c.t) || (j > 0 && r[e] > 0.8);
      return hidden ? -1e9 : 0.1 * r[e];
    });
    xs.push(host(m, shape));
  }
  const f = (...ts: Tensor[]) =>
    scaledDotProductAttention(ts[0], ts[1], ts[2], { mask: ts[3], fused: true, causal: c.causal });
  return { xs, f };
}

const caseArb = attentionCaseArb(
  fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 60, max: 70 })),
  fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 30, max: 70 })),
  fc.constantFrom(1, 3, 8, 32),
);

gpuTest("webgpu attention equals cpu on random shapes (forward and gradients)", async () => {
  await fc.assert(
    fc.asyncProperty(caseArb, async (c) => {
      const { xs, f } = inputsOf(c);
      await compareOn(`attention ${JSON.stringify(c)}`, xs, f, LOOSE);
      await compareGrad(`attention grad ${JSON.stringify(c)}`, xs, [0, 1, 2], f, LOOSE, c.seed);
    }),
    { numRuns: 12 },
  );
});

gpuTest("webgpu attention at head widths across tile sizes (d = 64, 128, 256)", async () => {
  for (const d of [64, 128, 256]) {
    const c: Case = {
      b: 1,
      hkv: 1,
      group: 2,
      t: 9,
      tk: 2 * attentionTile(d) + 3,
      d,
      mask: "2d",
      causal: false,
      seed: d,
    };
    const { xs, f } = inputsOf(c);
    await compareOn(`attention d=${d}`, xs, f, LOOSE);
    await compareGrad(`attention grad d=${d}`, xs, [0, 1, 2], f, LOOSE, d);
  }
});

gpuTest(
  "attend takes the fused kernels where the adapter counts as a GPU, composed on software",
  async () => {
    const gpu = backendInstance("webgpu");
    const saved = kernelPolicy.software;
    try {
      for (const software of [false, true]) {
        kernelPolicy.software = software;
        assertEquals(gpu.prefersFusedAttention, !software);
        const c: Case = {
          b: 2,
          hkv: 2,
          group: 2,
          t: 5,
          tk: 5,
          d: 4,
          mask: "shared",
          causal: false,
          seed: 9,
        };
        const { xs } = inputsOf(c);
        await compareGrad(
          `attend (software ${software})`,
          xs,
          [0, 1, 2],
          (q, k, v, m) => attend(q, k, v, m),
          LOOSE,
        );
      }
    } finally {
      kernelPolicy.software = saved;
    }
  },
);

gpuTest("webgpu causal attention without a mask skips exactly the hidden keys", async () => {
  const shapes: [number, number, number][] = [[70, 70, 8], [5, 9, 3], [1, 4, 2], [66, 100, 32]];
  for (const [t, tk, d] of shapes) {
    const c: Case = { b: 2, hkv: 1, group: 2, t, tk, d, mask: "none", causal: true, seed: t + tk };
    const { xs, f } = inputsOf(c);
    await compareOn(`causal ${t}x${tk} d=${d}`, xs, f, LOOSE);
    await compareGrad(`causal grad ${t}x${tk} d=${d}`, xs, [0, 1, 2], f, LOOSE, c.seed);
  }
});

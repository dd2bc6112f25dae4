// The 128x128 matmul for hardware GPUs (src/gpu/matmul/big.ts), forced on this
// machine's adapter two ways: through `kernelPolicy.software = false` (the GPU rule picks it
// for m, n >= 128 and k >= 8) and through `setBigMatmul(true)` (every shape, for the edges:
// k = 1, size-0 dims, thin outputs). It must equal the CPU oracle on all four transpose
// layouts, broadcast batches, sizes that are not multiples of 128, 8 or 4 (scalar-load and
// scalar-store specialisations), int32, and through gradients.
import * as lf from "../../mod.ts";
import { kernelPolicy } from "../../src/gpu/kernels/common.ts";
import { setMatmulTile, TILE_DEFAULT } from "../../src/gpu/matmul/kernels.ts";
import { bigMatmulFits, setBigMatmul, useBig } from "../../src/gpu/matmul/big.ts";
import { assert } from "../_assert.ts";
import { compareGrad, compareOn, gpuTest, host, LOOSE, weights } from "./_util.ts";
import type { EngineBackend } from "../../src/gpu/backend.ts";

const LAYOUTS = [[false, false], [true, false], [false, true], [true, true]] as const;

function engine() {
  return (lf.backendInstance("webgpu") as EngineBackend).engine;
}

function rand(shape: number[], seed: number) {
  const n = shape.reduce((a, b) => a * b, 1);
  return host(weights(n, seed).map((v) => 4 * v - 2), shape);
}

/** Runs `fn` with the GPU kernel choices, optionally forcing the big kernel; records kernel keys. */
async function asGpu(forced: boolean | null, fn: (keys: Set<string>) => Promise<void>) {
  const e = engine();
  const keys = new Set<string>();
  const kernel = e.kernel;
  e.kernel = (key, ...rest) => {
    keys.add(key);
    return kernel.call(e, key, ...rest);
  };
  kernelPolicy.software = false;
  setBigMatmul(forced);
  try {
    await fn(keys);
  } finally {
    e.kernel = kernel;
    kernelPolicy.software = null;
    setBigMatmul(null);
  }
}

type Case = [number[], number[], number, number, number];

async function compareCases(cases: Case[], seed0: number, tag: string, keys: Set<string>) {
  let seed = seed0;
  for (const [aB, bB, m, k, n] of cases) {
    for (const [ta, tb] of LAYOUTS) {
      const a = rand([...aB, ta ? k : m, ta ? m : k], seed++);
      const b = rand([...bB, tb ? n : k, tb ? k : n], seed++);
      keys.clear();
      await compareOn(
        `${tag} matmul ${aB}|${bB} ${m}x${k}x${n} ${ta}${tb}`,
        [a, b],
        (x, y) => lf.matmulT(x, y, ta, tb),
        LOOSE,
      );
      if (m * n > 0) {
        assert(
          [...keys].some((s) => s.startsWith("matmul_big_")),
          `${tag} ${m}x${k}x${n} ${ta}${tb}: big kernel not used (${[...keys]})`,
        );
      }
    }
  }
}

gpuTest("big matmul: selection rule and device limits", async () => {
  const e = engine();
  assert(bigMatmulFits(e), "this adapter's limits should allow the 128x128 kernel");
  assert(!bigMatmulFits({ ctx: { info: { limits: { maxComputeInvocationsPerWorkgroup: 128 } } } }));
  assert(!bigMatmulFits({ ctx: { info: { limits: { maxComputeWorkgroupStorageSize: 4096 } } } }));
  // deno-lint-ignore require-await
  await asGpu(null, async () => {
    assert(useBig(e, 128, 8, 128) && useBig(e, 4096, 4096, 4096) && useBig(e, 129, 9, 300));
    assert(!useBig(e, 127, 64, 128) && !useBig(e, 128, 64, 127) && !useBig(e, 128, 7, 128));
    assert(!useBig(e, 128, 8, 128, true), "a forced tile turns it off");
    kernelPolicy.software = true;
    assert(useBig(e, 512, 512, 512) && useBig(e, 1024, 4096, 600));
    assert(!useBig(e, 2048, 96, 384) && !useBig(e, 511, 512, 512), "software: m, n, k >= 512");
  });
  setBigMatmul(true);
  try {
    assert(useBig(e, 1, 1, 1, true));
  } finally {
    setBigMatmul(null);
  }
});

gpuTest(
  "big matmul picked by the GPU rule equals cpu: layouts, ragged edges, batches",
  async () => {
    await asGpu(null, async (keys) => {
      await compareCases(
        [
          [[], [], 128, 8, 128], // one full tile, vec4 everywhere
          [[], [], 256, 24, 132], // two row tiles, a ragged column tile
          [[], [], 130, 13, 129], // m, n, k not multiples of 4: scalar loads and stores
          [[2], [1], 131, 9, 136], // broadcast b, k not a multiple of 8
          [[3, 1], [1, 2], 129, 20, 128], // both broadcast, output batch [3, 2]
          [[2], [2], 200, 64, 140],
        ],
        1,
        "rule",
        keys,
      );
      // Random shapes (seeded) around the tile and vec4 boundaries.
      let s = 7;
      const next = (lo: number, hi: number) => {
        s = (s * 1103515245 + 12345) % 2147483648;
        return lo + (s % (hi - lo + 1));
      };
      const cases: Case[] = [];
      for (let i = 0; i < 4; i++) {
        cases.push([[next(1, 2)], [], next(128, 260), next(8, 70), next(128, 260)]);
      }
      await compareCases(cases, 500, "rule random", keys);
    });
  },
);

gpuTest("big matmul forced on every shape equals cpu: k = 1, size 0, thin, int32", async () => {
  await asGpu(true, async (keys) => {
    await compareCases(
      [
        [[], [], 5, 1, 7], // k = 1
        [[], [], 1, 3, 1],
        [[2], [2], 3, 0, 5], // k = 0: zeros
        [[2], [2], 0, 4, 6], // m = 0
        [[], [3], 4, 4, 0], // n = 0
        [[2, 1], [3], 17, 33, 9], // broadcast a over [2, 3]
        [[], [], 64, 16, 64],
        [[4], [4], 12, 8, 4],
      ],
      300,
      "forced",
      keys,
    );
    const a = host(
      Array.from({ length: 3 * 130 * 11 }, (_, i) => (i % 19) - 9),
      [3, 130, 11],
      "int32",
    );
    const b = host(Array.from({ length: 11 * 129 }, (_, i) => (i % 7) - 3), [11, 129], "int32");
    await compareOn("forced int32", [a, b], (x, y) => lf.matmul(x, y), { rtol: 0, atol: 0 });
    // A forced tile does not turn a forced big kernel off.
    setMatmulTile(TILE_DEFAULT);
    try {
      await compareCases([[[], [], 70, 9, 66]], 400, "forced over tile", keys);
    } finally {
      setMatmulTile(null);
    }
  });
});

gpuTest("big matmul gradients equal cpu, all layouts", async () => {
  for (const forced of [null, true]) {
    await asGpu(forced, async () => {
      let seed = 700;
      for (const [ta, tb] of LAYOUTS) {
        const [m, k, n] = forced ? [9, 5, 13] : [130, 128, 131];
        await compareGrad(
          `big matmul grad ${m}x${k}x${n} ${ta}${tb} forced=${forced}`,
          [rand([2, ta ? k : m, ta ? m : k], seed++), rand([tb ? n : k, tb ? k : n], seed++)],
          [0, 1],
          (x, y) => lf.matmulT(x, y, ta, tb),
          LOOSE,
        );
      }
    });
  }
});

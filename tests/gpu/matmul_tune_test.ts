// Matmul autotuning (src/gpu/matmul/): tuned kernels equal the untuned path and the CPU,
// matmul consults the table (seen through the kernel keys the engine records), the table
// survives a save/load round trip, entries for another adapter are never consulted, and bad
// files and shapes fail naming the file and field. Small sizes and minMs 0: lavapipe is slow,
// and nothing here asserts a time.
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import * as lf from "../../mod.ts";
import type { MatmulTuningEntry } from "../../mod.ts";
import { setMatmulTile, tileKernelKey } from "../../src/gpu/matmul/kernels.ts";
import { adapterId, classOf, type MatmulChoice, seen, tuned } from "../../src/gpu/matmul/table.ts";
import { assertAllClose, gpuTest, TOL } from "./_util.ts";
import type { EngineBackend } from "../../src/gpu/backend.ts";

const QUICK = { rounds: 1, minMs: 0 };

function engine() {
  return (lf.backendInstance("webgpu") as EngineBackend).engine;
}

/** op(a) @ op(b) for a [batch, m, k]-class product on both backends: [webgpu, cpu] results. */
async function both(
  [batch, m, k, n]: number[],
  ta: boolean,
  tb: boolean,
  seed = 3,
): Promise<[Float32Array, Float32Array]> {
  const r = lf.rng(seed);
  const a = lf.randn([batch, ta ? k : m, ta ? m : k], { rng: r, backend: "cpu" });
  const b = lf.randn([batch, tb ? n : k, tb ? k : n], { rng: r, backend: "cpu" });
  const ag = lf.tensor(await a.data(), { shape: a.shape, backend: "webgpu" });
  const bg = lf.tensor(await b.data(), { shape: b.shape, backend: "webgpu" });
  const [got, want] = await Promise.all([
    lf.matmulT(ag, bg, ta, tb).data(),
    lf.matmulT(a, b, ta, tb).data(),
  ]);
  for (const t of [a, b, ag, bg]) t.dispose();
  return [got as Float32Array, want as Float32Array];
}

/** The matmul kernel keys dispatched while `fn` runs. */
async function keysDuring(fn: () => Promise<unknown>): Promise<string[]> {
  const e = engine();
  const keys: string[] = [];
  const saved = e.trace;
  e.trace = (op, k) => {
    if (op === "matmul") keys.push(k.key);
  };
  try {
    await fn();
  } finally {
    e.trace = saved;
  }
  return keys;
}

/** Puts `choice` in the table for the class of a batch x m x k x n product on this adapter. */
function force([batch, m, k, n]: number[], ta: boolean, tb: boolean, choice: MatmulChoice) {
  const id = adapterId(engine().ctx.info);
  let t = tuned.get(id);
  if (!t) tuned.set(id, t = new Map());
  t.set(classOf(m, k, n, batch, ta, tb), choice);
}

const SHAPES: [number[], boolean, boolean][] = [
  [[3, 40, 24, 33], false, false],
  [[2, 17, 70, 65], true, false],
  [[1, 130, 9, 140], false, true],
  [[4, 2, 50, 96], true, true],
];

gpuTest("tuneMatmul: tuned kernels give the untuned results", async () => {
  try {
    lf.clearMatmulTuning();
    const untuned = [];
    for (const [s, ta, tb] of SHAPES) untuned.push(await both(s, ta, tb));
    const entries = await lf.tuneMatmul(
      SHAPES.map(([[batch, m, k, n], transA, transB]) => ({ m, k, n, batch, transA, transB })),
      QUICK,
    );
    assertEquals(entries.length, SHAPES.length);
    assertEquals(lf.matmulTuning().length, SHAPES.length);
    for (let i = 0; i < SHAPES.length; i++) {
      const [[batch, m, k, n], ta, tb] = SHAPES[i];
      const e = entries[i];
      // Class bounds: the powers of two the sizes round up to.
      assertEquals(
        [e.batch, e.m, e.k, e.n],
        [batch, m, k, n].map((d) => 2 ** Math.ceil(Math.log2(d))),
      );
      assertEquals([e.transA, e.transB], [ta, tb]);
      assertEquals(e.adapter, adapterId(engine().ctx.info));
      assert(e.measured && e.measured.ms > 0 && e.measured.ruleMs > 0, JSON.stringify(e));
      const [got, want] = await both(SHAPES[i][0], ta, tb);
      assertAllClose(got, want, TOL, `tuned ${e.kernel} ${SHAPES[i][0]} ${ta}${tb}`);
      assertAllClose(got, untuned[i][0], TOL, `tuned vs untuned ${SHAPES[i][0]}`);
    }
  } finally {
    lf.clearMatmulTuning();
  }
});

gpuTest("tuneMatmul: matmul runs the tuned entry of its class", async () => {
  const shape = [2, 33, 20, 45];
  const tile = { bm: 32, bn: 32, bk: 8, tm: 8, tn: 8 };
  const cases: [MatmulChoice, (ta: boolean, tb: boolean) => string][] = [
    [{ kernel: "direct" }, (ta, tb) => `matmul_direct_f32_${ta ? "t" : "n"}${tb ? "t" : "n"}`],
    [{ kernel: "big" }, (ta, tb) => `matmul_big_f32_${ta ? "t" : "n"}${tb ? "t" : "n"}_`],
    [{ kernel: "tile", tile }, (ta, tb) => tileKernelKey("f32", ta, tb, tile)],
  ];
  try {
    for (const [choice, key] of cases) {
      for (const [ta, tb] of [[false, false], [true, true]]) {
        lf.clearMatmulTuning();
        force(shape, ta, tb, choice);
        let res: [Float32Array, Float32Array] = [new Float32Array(), new Float32Array()];
        const keys = await keysDuring(async () => res = await both(shape, ta, tb));
        assertEquals(keys.length, 1, keys.join());
        assert(keys[0].startsWith(key(ta, tb)), `${choice.kernel}: ran ${keys[0]}`);
        assertAllClose(res[0], res[1], TOL, `forced ${choice.kernel} ${ta}${tb}`);
        // Another size of the same class takes the entry too; another class does not.
        const same = await keysDuring(() => both([2, 40, 17, 64], ta, tb));
        assert(same[0].startsWith(key(ta, tb)), `same class ran ${same[0]}`);
        const other = await keysDuring(() => both([2, 70, 20, 45], ta, tb));
        if (choice.kernel !== "tile") assert(!other[0].startsWith(key(ta, tb)), other[0]);
      }
    }
    // A forced tile (benchmarks) wins over the table.
    lf.clearMatmulTuning();
    force(shape, false, false, { kernel: "direct" });
    setMatmulTile(tile);
    const keys = await keysDuring(() => both(shape, false, false));
    assertEquals(keys, [tileKernelKey("f32", false, false, tile)]);
  } finally {
    setMatmulTile(null);
    lf.clearMatmulTuning();
  }
});

gpuTest("tuneMatmul: without shapes, tunes the classes run since start-up", async () => {
  try {
    lf.clearMatmulTuning();
    // Only this test's products (other test files in this process ran larger ones).
    seen.clear();
    const x = lf.randn([3, 20, 12], { backend: "webgpu" });
    const w = lf.randn([12, 28], { backend: "webgpu" });
    const y = lf.matmul(x, w);
    await y.data();
    const first = await lf.tuneMatmul(undefined, QUICK);
    assert(first.length >= 1, "a class was recorded");
    const m = first.find((e) => e.n === 32 && e.k === 16);
    assert(m, JSON.stringify(first));
    assertEquals(m.measured?.n, 28);
    // Everything seen now has an entry: nothing left to tune.
    assertEquals(await lf.tuneMatmul(undefined, QUICK), []);
    for (const t of [x, w, y]) t.dispose();
  } finally {
    lf.clearMatmulTuning();
  }
});

gpuTest("saveMatmulTuning / loadMatmulTuning round trip", async () => {
  const dir = await Deno.makeTempDir();
  try {
    lf.clearMatmulTuning();
    await lf.tuneMatmul(
      [{ m: 24, k: 8, n: 40, batch: 2 }, { m: 3, k: 30, n: 64, transB: true }],
      QUICK,
    );
    force([1, 64, 64, 64], false, true, {
      kernel: "tile",
      tile: { bm: 64, bn: 32, bk: 4, tm: 4, tn: 8, unroll: false },
    });
    const before = lf.matmulTuning();
    const path = `${dir}/tuning.json`;
    await lf.saveMatmulTuning(path);
    lf.clearMatmulTuning();
    assertEquals(lf.matmulTuning(), []);
    assertEquals(await lf.loadMatmulTuning(path), { entries: 3, forThisAdapter: 3 });
    const sort = (es: MatmulTuningEntry[]) => es.map((e) => JSON.stringify(e)).sort();
    assertEquals(sort(lf.matmulTuning()), sort(before));
    const keys = await keysDuring(() => both([1, 64, 64, 64], false, true));
    assertEquals(keys, ["matmul_f32_nt_64x32x4_4x8_loop"]);
  } finally {
    lf.clearMatmulTuning();
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest("loadMatmulTuning: entries for another adapter are not consulted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    lf.clearMatmulTuning();
    const here = adapterId(engine().ctx.info);
    const entry = {
      adapter: "4318 | hopper | NVIDIA H200",
      dtype: "float32",
      transA: false,
      transB: false,
      m: 64,
      k: 32,
      n: 64,
      batch: 2,
      kernel: "direct",
    };
    const path = `${dir}/t.json`;
    const file = { format: "lossforge-matmul-tuning", version: 1, entries: [entry] };
    await Deno.writeTextFile(path, JSON.stringify(file));
    const untuned = await keysDuring(() => both([2, 50, 30, 60], false, false));
    assertEquals(await lf.loadMatmulTuning(path), { entries: 1, forThisAdapter: 0 });
    const after = await keysDuring(() => both([2, 50, 30, 60], false, false));
    assertEquals(after, untuned);
    // Kept for saving.
    assertEquals(lf.matmulTuning().map((e) => e.adapter), [entry.adapter]);
    // The same entry for this adapter is consulted.
    await Deno.writeTextFile(
      path,
      JSON.stringify({ ...file, entries: [{ ...entry, adapter: here }] }),
    );
    assertEquals(await lf.loadMatmulTuning(path), { entries: 1, forThisAdapter: 1 });
    const tunedKeys = await keysDuring(() => both([2, 50, 30, 60], false, false));
    assertEquals(tunedKeys, ["matmul_direct_f32_nn"]);
  } finally {
    lf.clearMatmulTuning();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadMatmulTuning: a malformed file names the file and the field", async () => {
  const dir = await Deno.makeTempDir();
  const good = {
    adapter: "x",
    dtype: "float32",
    transA: false,
    transB: true,
    m: 64,
    k: 32,
    n: 128,
    batch: 1,
    kernel: "tile",
    tile: { bm: 64, bn: 64, bk: 8, tm: 8, tn: 8 },
  };
  const doc = (entries: unknown[]) => ({ format: "lossforge-matmul-tuning", version: 1, entries });
  const cases: [unknown, string][] = [
    [{ version: 1, entries: [] }, "format must be"],
    [{ ...doc([]), version: 7 }, "version must be 1, got 7"],
    [{ ...doc([]), entries: {} }, "entries must be an array"],
    [doc([good, { ...good, m: 96 }]), "entries[1].m must be a power of two"],
    [doc([{ ...good, transB: "yes" }]), "entries[0].transB must be a boolean"],
    [doc([{ ...good, kernel: "fast" }]), "entries[0].kernel must be"],
    [
      doc([{ ...good, tile: { ...good.tile, tm: 6 } }]),
      "entries[0].tile.tm must be a multiple of 4",
    ],
    [
      doc([{ ...good, tile: { ...good.tile, bn: 60 } }]),
      "entries[0].tile.bn must be a multiple of tn",
    ],
    [doc([{ ...good, adapter: 3 }]), "entries[0].adapter must be a non-empty string"],
    [doc([{ ...good, dtype: "int32" }]), "entries[0].dtype must be"],
  ];
  try {
    lf.clearMatmulTuning();
    const path = `${dir}/bad.json`;
    for (const [content, msg] of cases) {
      await Deno.writeTextFile(path, JSON.stringify(content));
      const err = await assertRejects(() => lf.loadMatmulTuning(path));
      const m = (err as Error).message;
      assert(m.startsWith(`loadMatmulTuning: ${path}: `), m);
      assert(m.includes(msg), `expected "${msg}" in: ${m}`);
      // Nothing was added from a bad file (the good entry before the bad one included).
      assertEquals(lf.matmulTuning(), []);
    }
    await Deno.writeTextFile(path, "{ not json");
    const err = await assertRejects(() => lf.loadMatmulTuning(path));
    assert((err as Error).message.includes(`${path}: not JSON`), (err as Error).message);
    await assertRejects(
      () => lf.loadMatmulTuning(`${dir}/missing.json`),
      Error,
      `loadMatmulTuning: cannot read ${dir}/missing.json`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tuneMatmul: bad shapes and options name the field", async () => {
  await assertRejects(
    () => lf.tuneMatmul([{ m: 4, k: 4, n: 4 }, { m: -1, k: 4, n: 4 }]),
    Error,
    "tuneMatmul: shapes[1].m must be a positive integer, got -1",
  );
  await assertRejects(
    () => lf.tuneMatmul([{ m: 4, k: 4, n: 4, batch: 1.5 }]),
    Error,
    "tuneMatmul: shapes[0].batch must be a positive integer, got 1.5",
  );
  await assertRejects(
    () => lf.tuneMatmul([{ m: 4, k: 4, n: 4, dtype: "int32" }]),
    Error,
    "tuneMatmul: shapes[0].dtype int32 is not tuned",
  );
  await assertRejects(
    () => lf.tuneMatmul([], { rounds: 0 }),
    Error,
    "tuneMatmul: rounds must be a positive integer, got 0",
  );
});

import {
  backendInstance,
  clearMatmulTuning,
  currentBackendName,
  initBackend,
  liveTensors,
  matmulTuning,
  pipeline,
  setBackend,
  train,
  type TrainEvent,
  treeDispose,
} from "../../mod.ts";
import { assert, assertEquals } from "../_assert.ts";
import { tinySpec } from "./_tiny.ts";

const quiet = { progress: false, handleSigint: false } as const;

let webgpu = false;
try {
  await initBackend("webgpu");
  webgpu = true;
} catch {
  // No adapter here (or the backend is not built yet): the WebGPU tests are skipped.
}

Deno.test("train: a tiny pipeline learns on the CPU", async () => {
  const events: TrainEvent[] = [];
  const r = await train(pipeline(tinySpec({ steps: 40 })), {
    ...quiet,
    onEvent: (e) => events.push(e),
  });
  assertEquals([r.steps, r.stopped, events.length], [40, "completed", 8]);
  const first = events[0].loss;
  assert(r.loss < 0.6 * first && r.loss < 2.5, `loss fell from ${first} to ${r.loss}`);
  for (const e of events) {
    assert(e.tokensPerSecond > 0 && e.lr === 0.05 && e.gradNorm > 0 && e.totalSteps === 40);
  }
  treeDispose(r.params);
  treeDispose(r.optState);
});

Deno.test({
  name: "train: a tiny pipeline learns on WebGPU",
  ignore: !webgpu,
  fn: async () => {
    const before = currentBackendName();
    await setBackend("webgpu");
    try {
      const events: TrainEvent[] = [];
      const r = await train(pipeline(tinySpec({ steps: 40 })), {
        ...quiet,
        onEvent: (e) => events.push(e),
      });
      assert(r.loss < 0.6 * events[0].loss && r.loss < 2.5, `loss ${events[0].loss} -> ${r.loss}`);
      treeDispose(r.params);
      treeDispose(r.optState);
    } finally {
      await setBackend(before);
    }
  },
});

async function flatOver500Steps(backend: "cpu" | "webgpu"): Promise<void> {
  const before = currentBackendName();
  await setBackend(backend);
  try {
    const live: number[] = [], bytes: number[] = [];
    // Micro-batch accumulation doubles the work; the software WebGPU adapter of CI is slow.
    const gradAccum = backend === "cpu" ? 2 : 1;
    const r = await train(pipeline(tinySpec({ steps: 500, logEvery: 50, gradAccum, clip: 1 })), {
      ...quiet,
      onEvent: () => {
        live.push(liveTensors());
        bytes.push(backendInstance(backend).memory().bytes);
      },
    });
    assertEquals(live.length, 10);
    assert(live.every((n) => n === live[0]), `live tensors drift: ${live.join(" ")}`);
    if (backend === "webgpu") {
      assert(bytes.slice(1).every((b) => b === bytes[1]), `GPU bytes drift: ${bytes.join(" ")}`);
    }
    treeDispose(r.params);
    treeDispose(r.optState);
  } finally {
    await setBackend(before);
  }
}

Deno.test("train: live tensors stay flat over 500 steps (CPU)", () => flatOver500Steps("cpu"));

Deno.test({
  name: "train: live tensors and GPU pool bytes stay flat over 500 steps (WebGPU)",
  ignore: !webgpu,
  fn: () => flatOver500Steps("webgpu"),
});

Deno.test("train: epochs, schedules and the run folder", async () => {
  const out = await Deno.makeTempDir();
  const events: TrainEvent[] = [];
  const r = await train(
    pipeline(tinySpec({
      steps: undefined,
      epochs: 2, // 32 examples / batch 4 = 8 steps per epoch
      logEvery: 4,
      schedule: { kind: "linearWarmup", options: { peak: 0.04, warmup: 8 } },
    })),
    { ...quiet, out, onEvent: (e) => events.push(e) },
  );
  assertEquals(r.steps, 16);
  // The lr of the last step of each interval: steps 3, 7 warm up, then the peak.
  assertEquals(events.map((e) => e.lr), [0.015, 0.035, 0.04, 0.04]);
  assertEquals(events.map((e) => e.epoch), [0, 0, 1, 1]);
  const lines = (await Deno.readTextFile(`${out}/events.jsonl`)).trim().split("\n");
  assertEquals(lines.map((l) => JSON.parse(l).step), [4, 8, 12, 16]);
  assertEquals(JSON.parse(await Deno.readTextFile(`${out}/pipeline.json`)).epochs, 2);
  // Interrupt and final checkpoints default to <out>/checkpoints.
  assertEquals(r.checkpoint, undefined);
  await Deno.remove(out, { recursive: true });
});

Deno.test("train: progress prints one plain line per log interval when not a terminal", async () => {
  const lines: string[] = [];
  await train(pipeline(tinySpec({ steps: 10, name: "demo" })), {
    handleSigint: false,
    progressWrite: (t) => lines.push(t),
  });
  assertEquals(lines.length, 2);
  assert(
    /^demo step 5\/10 {2}loss \d+\.\d{4} {2}lr 5\.00e-2 {2}[\d.]+k? tok\/s/.test(lines[0]),
    lines[0],
  );
});

Deno.test({
  name: "train: tuneMatmul tunes the model's products after the first step and keeps a file",
  ignore: !webgpu,
  fn: async () => {
    const before = currentBackendName();
    await setBackend("webgpu");
    const dir = await Deno.makeTempDir();
    const path = `${dir}/tuning.json`;
    const tuneMatmul = { path, rounds: 1, minMs: 1 };
    try {
      clearMatmulTuning();
      const r1 = await train(pipeline(tinySpec({ steps: 3 })), { ...quiet, tuneMatmul });
      const saved = JSON.parse(await Deno.readTextFile(path));
      const n = saved.entries.length;
      assert(n > 0, "the first run tuned the model's products and saved them");
      assertEquals(matmulTuning().length, n);
      // A second run loads the file first: nothing new to time, the file stays as it was.
      clearMatmulTuning();
      const text = await Deno.readTextFile(path);
      const r2 = await train(pipeline(tinySpec({ steps: 3 })), { ...quiet, tuneMatmul });
      assertEquals(matmulTuning().length, n);
      assertEquals(await Deno.readTextFile(path), text);
      for (const r of [r1, r2]) {
        treeDispose(r.params);
        treeDispose(r.optState);
      }
    } finally {
      clearMatmulTuning();
      await Deno.remove(dir, { recursive: true });
      await setBackend(before);
    }
  },
});

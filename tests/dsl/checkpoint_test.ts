import {
  checkpointPath,
  checkpointStep,
  crossEntropy,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  NonFiniteLossError,
  pipeline,
  resume,
  type Tensor,
  train,
  type TrainEvent,
  treeLeaves,
} from "../../mod.ts";
import { writeDirAtomic, writeFileAtomic } from "../../src/util/atomic.ts";
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { tinySpec } from "./_tiny.ts";

const quiet = { progress: false, handleSigint: false } as const;

async function losses(run: Promise<unknown>, events: TrainEvent[]): Promise<Map<number, number>> {
  await run;
  return new Map(events.map((e) => [e.step, e.loss]));
}

Deno.test("resume: losses after resuming equal an uninterrupted run bit for bit", async () => {
  const dir = await Deno.makeTempDir();
  const spec = tinySpec({
    steps: 20,
    logEvery: 1,
    gradAccum: 2,
    clip: 1,
    schedule: { kind: "cosine", options: { peak: 0.05, steps: 20 } },
    checkpoint: { dir: `${dir}/ckpt`, every: 5, keep: 10 },
  });
  const full: TrainEvent[] = [];
  const a = await losses(train(pipeline(spec), { ...quiet, onEvent: (e) => full.push(e) }), full);
  assertEquals((await listCheckpoints(`${dir}/ckpt`)).length, 4);

  // From the step-10 checkpoint, with the pipeline rebuilt from the checkpoint's JSON.
  const again: TrainEvent[] = [];
  const r = await resume(`${dir}/ckpt/step-00000010`, {
    ...quiet,
    onEvent: (e) => again.push(e),
  });
  assertEquals(again.map((e) => e.step), [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  for (const e of again) assert(Object.is(e.loss, a.get(e.step)), `step ${e.step} differs`);
  assertEquals(r.curve, full.map((e) => ({ step: e.step, loss: e.loss })));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("resume: an interrupted run (abort) checkpoints mid-interval and resumes exactly", async () => {
  const dir = await Deno.makeTempDir();
  const spec = tinySpec({ steps: 24, logEvery: 4, checkpoint: { dir, every: 100 } });
  const full: TrainEvent[] = [];
  const a = await losses(train(pipeline(spec), { ...quiet, onEvent: (e) => full.push(e) }), full);
  await Deno.remove(dir, { recursive: true });

  const stop = new AbortController();
  const first: TrainEvent[] = [];
  const r1 = await train(pipeline(spec), {
    ...quiet,
    signal: stop.signal,
    onEvent: (e) => {
      first.push(e);
      if (e.step === 8) setTimeout(() => stop.abort(), 0); // lands a few steps later
    },
  });
  assertEquals(r1.stopped, "interrupted");
  assert(r1.steps < 24 && r1.checkpoint === (await latestCheckpoint(dir)));
  const second: TrainEvent[] = [];
  const r2 = await resume(dir, { ...quiet, onEvent: (e) => second.push(e) });
  assertEquals(r2.stopped, "completed");
  for (const e of [...first, ...second]) {
    assert(Object.is(e.loss, a.get(e.step)), `step ${e.step}: ${e.loss} vs ${a.get(e.step)}`);
  }
  assertEquals([...first, ...second].map((e) => e.step), [...a.keys()]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checkpoints: only the newest `keep` remain, no temporary folders", async () => {
  const dir = await Deno.makeTempDir();
  await train(pipeline(tinySpec({ steps: 12, checkpoint: { dir, every: 2, keep: 2 } })), quiet);
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  assertEquals(names.sort(), ["step-00000010", "step-00000012"]);
  const c = await loadCheckpoint(dir);
  assertEquals([c.state.step, c.state.data.epoch, c.state.data.index], [12, 1, 16]);
  assertEquals(Object.keys(c.params as object).sort(), ["emb", "out"]);
  await Deno.remove(dir, { recursive: true });
});

// A loss that turns NaN on its `at`-th call (1-based): a diverging run, on cue.
function nanAt(at: number) {
  let calls = 0;
  const ce = crossEntropy();
  return (logits: Tensor, targets: Tensor) => {
    const l = ce(logits, targets);
    return ++calls === at ? l.mul(NaN) : l;
  };
}

Deno.test("non-finite loss: the run stops naming the step and keeps the last good checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  const p = pipeline(tinySpec({ loss: nanAt(8), steps: 20, checkpoint: { dir, every: 5 } }));
  const e = await assertRejects(
    () => train(p, quiet),
    NonFiniteLossError,
    "at step 8",
  ) as NonFiniteLossError;
  assertEquals([e.step, e.checkpoint], [8, `${dir}/step-00000005`]);
  assert(e.message.includes("loss is NaN at step 8"));
  assertEquals(await listCheckpoints(dir), [`${dir}/step-00000005`]);
  const c = await loadCheckpoint(dir);
  for (const t of treeLeaves(c.params)) {
    assert((await t.data()).every(Number.isFinite), "the kept checkpoint is finite");
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("non-finite loss with onNonFinite: skip leaves params untouched and counts it", async () => {
  const p = pipeline(tinySpec({ loss: nanAt(3), steps: 10, onNonFinite: "skip" }));
  const r = await train(p, quiet);
  assertEquals([r.skipped, r.steps], [1, 10]);
  assert(Number.isFinite(r.loss));
  for (const t of treeLeaves(r.params)) assert((await t.data()).every(Number.isFinite));
});

Deno.test("atomic writes: a failure leaves the previous file and folder intact", async () => {
  const dir = await Deno.makeTempDir();
  await writeFileAtomic(`${dir}/a.txt`, "old");
  await writeDirAtomic(`${dir}/ck`, (tmp) => Deno.writeTextFile(`${tmp}/x`, "old"));
  await assertRejects(
    () =>
      writeDirAtomic(`${dir}/ck`, async (tmp) => {
        await Deno.writeTextFile(`${tmp}/x`, "half");
        throw new Error("crash while writing");
      }),
    Error,
    "crash",
  );
  assertEquals(await Deno.readTextFile(`${dir}/ck/x`), "old");
  await writeDirAtomic(`${dir}/ck`, (tmp) => Deno.writeTextFile(`${tmp}/x`, "new"));
  assertEquals(await Deno.readTextFile(`${dir}/ck/x`), "new");
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  assertEquals(names.sort(), ["a.txt", "ck"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checkpointStep reads back what checkpointPath names, and nothing else", () => {
  for (const step of [0, 7, 100, 12345678]) {
    assertEquals(checkpointStep(checkpointPath("runs/a/checkpoints", step)), step);
    assertEquals(checkpointStep(checkpointPath("runs/a/checkpoints", step) + "/"), step);
  }
  for (const p of ["runs/a/checkpoints", "runs/step-1", "runs/step-000000100", "step-0000010x"]) {
    assertEquals(checkpointStep(p), undefined, p);
  }
});

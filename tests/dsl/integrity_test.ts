// Checkpoint checksums, the fallback past a damaged newest checkpoint, and non-finite steps
// named by their first bad gradient.
import {
  CheckpointError,
  crossEntropy,
  embedding,
  listCheckpoints,
  loadCheckpoint,
  type ModelLike,
  NonFiniteLossError,
  pipeline,
  randn,
  resume,
  type Tensor,
  train,
  type TrainEvent,
  treeLeaves,
  verifyCheckpoint,
  zeros,
} from "../../mod.ts";
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { tinySpec } from "./_tiny.ts";

const quiet = { progress: false, handleSignals: false } as const;

/** A run of 6 steps with a checkpoint every 2 (all three kept) in a fresh folder. */
async function checkpointed(): Promise<{ dir: string; events: TrainEvent[] }> {
  const dir = await Deno.makeTempDir();
  const events: TrainEvent[] = [];
  const spec = tinySpec({ steps: 6, logEvery: 1, checkpoint: { dir, every: 2, keep: 3 } });
  await train(pipeline(spec), { ...quiet, onEvent: (e) => events.push(e) });
  return { dir, events };
}

async function flipByte(path: string, at: number): Promise<void> {
  const bytes = await Deno.readFile(path);
  bytes[at] ^= 0x40;
  await Deno.writeFile(path, bytes);
}

Deno.test("checkpoints: each folder has a manifest that verifies", async () => {
  const { dir } = await checkpointed();
  const all = await listCheckpoints(dir);
  assertEquals(all.map((p) => p.slice(-13)), ["step-00000002", "step-00000004", "step-00000006"]);
  for (const c of all) {
    await verifyCheckpoint(c);
    const m = JSON.parse(await Deno.readTextFile(`${c}/manifest.json`));
    assertEquals(Object.keys(m.files).sort(), [
      "optimizer.safetensors",
      "params.safetensors",
      "state.json",
    ]);
    for (const [name, f] of Object.entries(m.files) as [string, { bytes: number }][]) {
      assertEquals(f.bytes, (await Deno.stat(`${c}/${name}`)).size, name);
    }
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checkpoints: a damaged newest one is reported in one line and the one before used", async () => {
  const { dir, events } = await checkpointed();
  const newest = `${dir}/step-00000006`;
  await flipByte(`${newest}/params.safetensors`, 200); // inside the tensor data
  const e = await assertRejects(() => verifyCheckpoint(newest), CheckpointError);
  assert(e.message.startsWith(`${newest}/params.safetensors: SHA-256 `), e.message);
  // Named directly, a damaged checkpoint is an error...
  await assertRejects(() => loadCheckpoint(newest), CheckpointError, "params.safetensors");
  // ...in a run's folder, it is passed over, in one line naming it.
  const said: string[] = [];
  const c = await loadCheckpoint(dir, { onCorrupt: (m) => said.push(m) });
  assertEquals(c.path, `${dir}/step-00000004`);
  assertEquals(said.length, 1);
  assert(said[0].includes(newest) && said[0].includes(`using ${dir}/step-00000004`), said[0]);
  assert(!said[0].includes("\n"), said[0]);
  // Resuming there gives the uninterrupted run's numbers.
  const again: TrainEvent[] = [];
  const warn = console.warn;
  console.warn = () => {};
  try {
    await resume(dir, { ...quiet, onEvent: (e) => again.push(e) });
  } finally {
    console.warn = warn;
  }
  assertEquals(again.map((e) => [e.step, e.loss]), events.slice(4).map((e) => [e.step, e.loss]));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checkpoints: cut-short files, a damaged manifest or state, and nothing left", async () => {
  const { dir } = await checkpointed();
  const [a, b, c] = await listCheckpoints(dir);
  const opt = await Deno.readFile(`${c}/optimizer.safetensors`);
  await Deno.writeFile(`${c}/optimizer.safetensors`, opt.subarray(0, opt.length - 7));
  await assertRejects(() => verifyCheckpoint(c), CheckpointError, "(cut short?)");
  await Deno.writeTextFile(`${b}/manifest.json`, "{ not json");
  await assertRejects(() => verifyCheckpoint(b), CheckpointError, `${b}/manifest.json: not valid`);
  await flipByte(`${a}/state.json`, 10);
  await assertRejects(() => verifyCheckpoint(a), CheckpointError, `${a}/state.json: SHA-256`);
  const said: string[] = [];
  const e = await assertRejects(
    () => loadCheckpoint(dir, { onCorrupt: (m) => said.push(m) }),
    CheckpointError,
    "none of its 3 checkpoint(s) can be read",
  );
  assert(e.message.includes(c), e.message);
  assertEquals(said.length, 3);
  assert(said[2].endsWith("no earlier checkpoint is left"), said[2]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checkpoints: a folder without a manifest loads only as the older format", async () => {
  const { dir } = await checkpointed();
  const c = `${dir}/step-00000006`;
  await Deno.remove(`${c}/manifest.json`);
  await assertRejects(() => loadCheckpoint(c), CheckpointError, "manifest.json: missing");
  // Written before manifests existed (state.json version 1): read unchecked, field by field.
  const state = JSON.parse(await Deno.readTextFile(`${c}/state.json`));
  await Deno.writeTextFile(`${c}/state.json`, JSON.stringify({ ...state, version: 1 }));
  assertEquals((await loadCheckpoint(c)).state.step, 6);
  await Deno.writeTextFile(`${c}/state.json`, JSON.stringify({ ...state, version: 1, step: -1 }));
  await assertRejects(
    () => loadCheckpoint(c),
    CheckpointError,
    `${c}/state.json: step must be an integer >= 0, got -1`,
  );
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

Deno.test("non-finite loss: the error names the step, the first bad gradient and the intact checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  const p = pipeline(tinySpec({ loss: nanAt(8), steps: 20, checkpoint: { dir, every: 5 } }));
  const e = await assertRejects(() => train(p, quiet), NonFiniteLossError) as NonFiniteLossError;
  assertEquals([e.step, e.path, e.checkpoint], [8, "emb", `${dir}/step-00000005`]);
  assert(Number.isNaN(e.gradNorm), `gradNorm ${e.gradNorm}`);
  assert(
    e.message.startsWith(
      `loss is NaN at step 8 (first non-finite gradient: emb); training stopped. ` +
        `The last good checkpoint is ${dir}/step-00000005 (intact: its checksums match).`,
    ),
    e.message,
  );
  await verifyCheckpoint(`${dir}/step-00000005`);
  await Deno.remove(dir, { recursive: true });
});

/**
 * The bigram model plus a parameter `z` whose gradient is NaN while the loss stays finite:
 * 0 · sqrt(z - z) is 0, and its derivative 0 · (1 - 1) / (2 · sqrt(0)) is 0 · ∞, NaN.
 */
function nanGradModel(): ModelLike<{ emb: Tensor; out: Tensor; z: Tensor }> {
  return {
    init: (r) => ({
      emb: randn([259, 8], { rng: r, std: 0.1 }),
      out: randn([8, 259], { rng: r, std: 0.1 }),
      z: zeros([1]),
    }),
    apply: (p, ids) => embedding(p.emb, ids).matmul(p.out).add(p.z.sub(p.z).sqrt().mul(0).sum()),
  };
}

Deno.test("non-finite gradient: a finite loss with a NaN gradient names that parameter", async () => {
  const p = pipeline(tinySpec({ model: nanGradModel(), steps: 4, logEvery: 2 }));
  const e = await assertRejects(() => train(p, quiet), NonFiniteLossError) as NonFiniteLossError;
  assertEquals([e.step, e.path, e.checkpoint], [1, "z", undefined]);
  assert(Number.isFinite(e.loss), `loss ${e.loss}`);
  assert(
    e.message.startsWith(
      `gradient norm is NaN at step 1 (loss ${e.loss}) (first non-finite gradient: z)`,
    ),
    e.message,
  );
  // Skipped instead, each step says which parameter it was, and the params stay finite.
  const lines: string[] = [];
  const skip = pipeline(tinySpec({ model: nanGradModel(), steps: 3, onNonFinite: "skip" }));
  const r = await train(skip, { handleSignals: false, progressWrite: (t) => lines.push(t) });
  assertEquals(r.skipped, 3);
  const said = lines.join("").split("\n").filter((l) => l.includes("skipped:"));
  assertEquals(said.length, 3, lines.join(""));
  assert(said[0].includes("step 1 skipped: loss") && said[0].endsWith("gradient: z"), said[0]);
  for (const t of treeLeaves(r.params)) assert((await t.data()).every(Number.isFinite));
});

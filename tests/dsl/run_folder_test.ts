// A run folder that cannot be written (a full disk, injected with LOSSFORGE_TEST_FAIL_WRITES;
// a path through a file) gives one clear error and exit code 1, keeping the last good
// checkpoint; and a run folder is used by one run at a time.
import {
  listCheckpoints,
  pipeline,
  RunFolderError,
  sweep,
  train,
  verifyCheckpoint,
} from "../../mod.ts";
import { main } from "../../src/dsl/run/cli.ts";
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { assertSound, finish, isTemp, spawnDeno, walk } from "./_child.ts";
import { tinySpec } from "./_tiny.ts";

const quiet = { progress: false, handleSignals: false } as const;

const config = {
  name: "disk",
  model: { kind: "gpt", options: { vocab: 259, context: 16, layers: 1, dim: 16, heads: 2 } },
  loss: "ce",
  optimizer: { kind: "adamw", options: { lr: 0.01 } },
  data: { kind: "inline", options: { train: [{ prompt: "ab", target: "ab" }], maxLength: 8 } },
  steps: 8,
  batchSize: 1,
  logEvery: 2,
  checkpoint: { dir: "unused", every: 2, keep: 5 },
};

/** `fn` with `LOSSFORGE_TEST_FAIL_WRITES=text` and console output captured. */
async function failing<T>(text: string, fn: () => Promise<T>): Promise<{ value: T; err: string }> {
  const errors: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = () => {};
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  Deno.env.set("LOSSFORGE_TEST_FAIL_WRITES", text);
  try {
    return { value: await fn(), err: errors.join("\n") };
  } finally {
    Deno.env.delete("LOSSFORGE_TEST_FAIL_WRITES");
    [console.log, console.error] = [log, error];
  }
}

Deno.test("full disk during a checkpoint: train exits 1 naming it; the last good one is kept", async () => {
  const dir = await Deno.makeTempDir();
  const out = `${dir}/run`;
  await Deno.writeTextFile(
    `${dir}/config.json`,
    JSON.stringify({ ...config, checkpoint: { ...config.checkpoint, dir: `${out}/checkpoints` } }),
  );
  const r = await failing(
    "step-00000006",
    () => main([`${dir}/config.json`, "--out", out, "--quiet"]),
  );
  assertEquals(r.value, 1);
  assertEquals(
    r.err,
    `error: cannot write the checkpoint of step 6 in ${out}/checkpoints: No space left on ` +
      `device (os error 28) (LOSSFORGE_TEST_FAIL_WRITES=step-00000006); the last good ` +
      `checkpoint, ${out}/checkpoints/step-00000004, is kept`,
  );
  const kept = await listCheckpoints(`${out}/checkpoints`);
  assertEquals(kept.map((c) => c.slice(-2)), ["02", "04"]);
  for (const c of kept) await verifyCheckpoint(c);
  // The half-written one left nothing behind, and neither did the lock.
  assertEquals((await walk(out)).filter((p) => isTemp(p) || p.endsWith("run.lock")), []);
  await assertSound(out);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("full disk during the results: the sweep throws RunFolderError; resuming finishes it", async () => {
  const dir = await Deno.makeTempDir();
  const base = pipeline(tinySpec({
    eval: { kind: "exact-match", options: { maxNewTokens: 2 } },
    steps: 4,
    checkpoint: { dir: "unused", every: 2, keep: 2 },
  }));
  const run = () =>
    sweep(base, { loss: ["ce", "focal"] }, {
      out: dir,
      folder: (v) => v.loss,
      resume: true,
      ...quiet,
    });
  const e = await failing(
    "ce/result.json",
    async () => await assertRejects(run, RunFolderError) as RunFolderError,
  );
  assert(
    e.value.message.startsWith(`cannot write ${dir}/ce/result.json: No space left`),
    e.value.message,
  );
  assertEquals(e.value.path, `${dir}/ce/result.json`);
  // The variant kept its checkpoints (the last is its final step); focal never started.
  await verifyCheckpoint(`${dir}/ce/checkpoints/step-00000004`);
  assertEquals(await listCheckpoints(`${dir}/focal/checkpoints`), []);
  await assertSound(dir);
  const table = await run();
  assertEquals(table.stopped, "completed");
  assertEquals(table.rows.map((r) => [r.label, r.steps, "exactMatch" in r.metrics]), [
    ["loss=ce", 4, true],
    ["loss=focal", 4, true],
  ]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("full disk during the flagship's results: one line, exit code 1", async () => {
  const dir = await Deno.makeTempDir();
  const tiny = ["--steps", "2", "--batch", "2", "--dim", "16", "--layers", "1", "--limit", "2"];
  const r = await finish(
    spawnDeno("examples/gsm8k.ts", [...tiny, "--losses", "ce", "--workers", "1", "--out", dir], {
      LOSSFORGE_TEST_FAIL_WRITES: "results.json",
    }),
  );
  assertEquals(r.code, 1, r.err);
  const lines = r.err.trim().split("\n");
  assertEquals(lines.length, 1, r.err);
  assert(lines[0].startsWith(`error: cannot write ${dir}/results.json: No space left`), r.err);
  await verifyCheckpoint(`${dir}/ce/checkpoints/step-00000002`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an --out that cannot be a folder: exit code 1 with the reason", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/file`, "");
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
  const r = await failing(
    "nothing",
    () => main([`${dir}/config.json`, "--out", `${dir}/file/run`, "--quiet"]),
  );
  assertEquals(r.value, 1);
  assert(r.err.startsWith(`error: cannot create run folder ${dir}/file/run: `), r.err);
  assertEquals(r.err.split("\n").length, 1, r.err);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("run folder lock: a second run on the same --out refuses; a dead run's lock does not", async () => {
  const dir = await Deno.makeTempDir();
  const stop = new AbortController();
  const p = pipeline(tinySpec({ steps: 100000 }));
  let first: Promise<unknown> | undefined;
  await new Promise<void>((started) => {
    first = train(p, { ...quiet, out: dir, signal: stop.signal, onEvent: () => started() });
  });
  const lock = JSON.parse(await Deno.readTextFile(`${dir}/run.lock`));
  assertEquals([lock.pid, lock.host], [Deno.pid, Deno.hostname()]);
  const e = await assertRejects(
    () => train(p, { ...quiet, out: dir }),
    RunFolderError,
  ) as RunFolderError;
  assertEquals(e.path, `${dir}/run.lock`);
  assert(e.message.startsWith(`${dir} is in use by another run (pid ${Deno.pid} on `), e.message);
  // The command line says so in one line and exits 1.
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
  const cli = await failing("nothing", () => main([`${dir}/config.json`, "--out", dir, "--quiet"]));
  assertEquals(cli.value, 1);
  assert(cli.err.startsWith(`error: ${dir} is in use by another run`), cli.err);
  stop.abort();
  await first;
  assert(!(await Deno.stat(`${dir}/run.lock`).then(() => true, () => false)), "released");

  // A lock left by a process that has exited, on this host: taken over.
  const gone = new Deno.Command("true").spawn();
  await gone.status;
  const dead = { pid: gone.pid, host: Deno.hostname(), since: new Date().toISOString() };
  await Deno.writeTextFile(`${dir}/run.lock`, JSON.stringify(dead));
  assertEquals((await train(pipeline(tinySpec({ steps: 2 })), { ...quiet, out: dir })).steps, 2);
  // A lock from another host is never judged from here.
  const far = { pid: 1, host: "elsewhere.example", since: "2025-01-01T00:00:00.000Z" };
  await Deno.writeTextFile(`${dir}/run.lock`, JSON.stringify(far));
  const other = await assertRejects(() => train(p, { ...quiet, out: dir }), RunFolderError);
  assert(other.message.includes(`(pid 1 on elsewhere.example, since 2025-01-01`), other.message);
  assert(other.message.endsWith(`or delete ${dir}/run.lock if that run is gone`), other.message);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("run folder lock: a checkpoint folder shared by two runs is locked too", async () => {
  const dir = await Deno.makeTempDir();
  const stop = new AbortController();
  const spec = tinySpec({ steps: 100000, checkpoint: { dir: `${dir}/ckpt`, every: 1000 } });
  let first: Promise<unknown> | undefined;
  await new Promise<void>((started) => {
    first = train(pipeline(spec), {
      ...quiet,
      out: `${dir}/a`,
      signal: stop.signal,
      onEvent: () => started(),
    });
  });
  await assertRejects(
    () => train(pipeline(spec), { ...quiet, out: `${dir}/b` }),
    RunFolderError,
    `${dir}/ckpt is in use by another run`,
  );
  stop.abort();
  await first;
  await Deno.remove(dir, { recursive: true });
});

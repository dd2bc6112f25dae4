// Signals sent to real child processes: SIGTERM stops `train`, a sweep with workers and the
// flagship at the next step with a checkpoint and exit code 143 (SIGINT: 130, in cli_test.ts),
// printing how to resume; a second signal ends the process at once.
import { listCheckpoints, loadCheckpoint } from "../../mod.ts";
import { main } from "../../src/dsl/run/cli.ts";
import { assert, assertEquals } from "../_assert.ts";
import { assertSound, exitWatch, finish, isTemp, spawnDeno, waitFor, walk } from "./_child.ts";

const ignore = Deno.build.os === "windows";
const CLI = "src/dsl/run/cli.ts";
/** Steps of each sweep variant: enough to be running still when the signal comes. */
const STEPS = "400";

const config = (steps: number, extra: Record<string, unknown> = {}) => ({
  name: "signals",
  model: { kind: "gpt", options: { vocab: 259, context: 16, layers: 1, dim: 16, heads: 2 } },
  loss: "ce",
  optimizer: { kind: "adamw", options: { lr: 0.01 } },
  data: {
    kind: "inline",
    options: {
      train: [{ prompt: "ab", target: "ab" }, { prompt: "ba", target: "ba" }],
      maxLength: 8,
    },
  },
  steps,
  batchSize: 2,
  logEvery: 1,
  ...extra,
});

/** Lines of a file (empty when it does not exist yet). */
async function lines(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((l) => l);
}

Deno.test({
  name: "signals: SIGTERM checkpoints train, exits 143 and prints the resume command",
  ignore,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config(100000)));
    const child = spawnDeno(CLI, [`${dir}/config.json`, "--out", `${dir}/run`, "--quiet"]);
    const watch = exitWatch(child);
    assert(
      await waitFor(async () => (await lines(`${dir}/run/events.jsonl`)).length > 3, {
        child: watch,
        ms: 50,
      }),
      "training got under way",
    );
    child.kill("SIGTERM");
    const r = await finish(child);
    assertEquals(r.code, 143, r.err);
    const said = r.err.trim().split("\n");
    assertEquals(said.length, 1, r.err);
    const m = /^interrupted by SIGTERM after (\d+) steps; resume with: deno task train (.*)$/
      .exec(said[0]);
    assert(m, r.err);
    const [step, args] = [Number(m[1]), m[2].split(" ")];
    assertEquals(args, ["--resume", `${dir}/run/checkpoints`, "--out", `${dir}/run`]);
    const saved = await listCheckpoints(`${dir}/run/checkpoints`);
    assertEquals(saved.map((s) => Number(s.slice(-8))), [step]);
    assertEquals((await loadCheckpoint(saved[0])).state.step, step);
    await assertSound(`${dir}/run`);
    // The command it printed continues the run (a shorter config: steps step + 2).
    await Deno.writeTextFile(`${dir}/short.json`, JSON.stringify(config(step + 2)));
    const [log, error] = [console.log, console.error];
    console.log = console.error = () => {};
    let code: number;
    try {
      code = await main([`${dir}/short.json`, ...args, "--quiet"]);
    } finally {
      [console.log, console.error] = [log, error];
    }
    assertEquals(code, 0);
    const steps = (await lines(`${dir}/run/events.jsonl`)).map((l) => JSON.parse(l).step);
    assertEquals(steps, Array.from({ length: step + 2 }, (_, i) => i + 1));
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "signals: a second SIGTERM during the checkpoint stops at once, leaving nothing half-written",
  ignore,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config(100000)));
    // Each write pauses 400 ms halfway: a checkpoint takes 2 s (four files and the folder).
    const child = spawnDeno(CLI, [`${dir}/config.json`, "--out", `${dir}/run`, "--quiet"], {
      LOSSFORGE_TEST_SLOW_WRITES: "400",
    });
    const watch = exitWatch(child);
    const started = async () => (await lines(`${dir}/run/events.jsonl`)).length > 3;
    assert(await waitFor(started, { child: watch, ms: 20 }), "training got under way");
    child.kill("SIGTERM");
    // The stop checkpoint is under way (a temporary folder of this process): signal again.
    const writing = async () =>
      (await walk(`${dir}/run/checkpoints`)).some((p) => isTemp(p) && p.includes(`-${child.pid}-`));
    assert(await waitFor(writing, { child: watch, ms: 5 }), "the stop checkpoint began");
    const t0 = performance.now();
    child.kill("SIGTERM");
    const r = await finish(child);
    const ms = performance.now() - t0;
    assertEquals(r.code, 143, r.err);
    assert(ms < 1500, `stopped ${ms.toFixed(0)} ms after the second signal`);
    // The checkpoint it was writing never took its name; what is there is sound.
    assertEquals(await listCheckpoints(`${dir}/run/checkpoints`), []);
    await assertSound(`${dir}/run`);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "signals: SIGTERM stops a sweep and its workers (143); resuming gives the same rows",
  ignore,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const child = spawnDeno("tests/dsl/_sweep_child.ts", [`${dir}/sweep`, STEPS, "2", "100000"]);
    const watch = exitWatch(child);
    const started = async () =>
      (await lines(`${dir}/sweep/ce/events.jsonl`)).length > 2 &&
      (await lines(`${dir}/sweep/focal/events.jsonl`)).length > 2;
    assert(await waitFor(started, { child: watch, ms: 20 }), "both workers trained");
    child.kill("SIGTERM");
    const r = await finish(child);
    assertEquals(r.code, 143, r.err + r.out);
    assert(r.out.includes("interrupted by SIGTERM"), r.out);
    // Each variant stopped with a checkpoint (or, on a slow machine, had finished already).
    let stopped = 0;
    for (const v of ["ce", "focal"]) {
      const saved = await listCheckpoints(`${dir}/sweep/${v}/checkpoints`);
      const finished = await Deno.stat(`${dir}/sweep/${v}/result.json`).then(
        () => true,
        () => false,
      );
      assertEquals(saved.length, 1, `${v}: ${saved}`);
      if (!finished) {
        assert(Number(saved[0].slice(-8)) < Number(STEPS), saved[0]);
        stopped++;
      }
    }
    assert(stopped > 0, "a variant was running when the signal came");
    await assertSound(`${dir}/sweep`);
    const again = await finish(
      spawnDeno("tests/dsl/_sweep_child.ts", [`${dir}/sweep`, STEPS, "2", "100000"]),
    );
    assertEquals(again.code, 0, again.err);
    const ref = await finish(
      spawnDeno("tests/dsl/_sweep_child.ts", [`${dir}/ref`, STEPS, "1", "100000"]),
    );
    assertEquals(ref.code, 0, ref.err);
    const rows = async (d: string) =>
      JSON.parse(await Deno.readTextFile(`${d}/results.json`)).rows.map(
        (x: Record<string, unknown>) => [x.label, x.loss, x.curve, x.metrics],
      );
    assertEquals(await rows(`${dir}/sweep`), await rows(`${dir}/ref`));
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "signals: SIGTERM stops the flagship (143) with the resume command; --resume finishes",
  ignore,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const tiny = ["--steps", "120", "--batch", "2", "--dim", "16", "--layers", "1"];
    const child = spawnDeno("examples/gsm8k.ts", [
      ...tiny,
      "--limit",
      "2",
      "--backend",
      "cpu",
      "--losses",
      "ce",
      "--workers",
      "1",
      "--out",
      dir,
    ]);
    const watch = exitWatch(child);
    // The first event comes at step 50 (logEvery 50): then stop it.
    const started = async () => (await lines(`${dir}/ce/events.jsonl`)).length > 0;
    assert(await waitFor(started, { child: watch, ms: 50, timeoutMs: 60_000 }), "it trained");
    child.kill("SIGTERM");
    const r = await finish(child);
    assertEquals(r.code, 143, r.err);
    assert(r.out.includes(`interrupted by SIGTERM: continue with --resume ${dir}`), r.out);
    const saved = await listCheckpoints(`${dir}/ce/checkpoints`);
    assertEquals(saved.length, 1);
    assert(Number(saved[0].slice(-8)) < 120, saved[0]);
    const again = await finish(spawnDeno("examples/gsm8k.ts", ["--resume", dir]));
    assertEquals(again.code, 0, again.err);
    const results = JSON.parse(await Deno.readTextFile(`${dir}/results.json`));
    assertEquals(results.rows.length, 1);
    await assertSound(dir);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "signals: SIGTERM stops the paper grid (143) with the resume command; --resume finishes",
  ignore,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const args = ["--smoke", "--tasks", "gsm8k", "--losses", "ce", "--steps", "400"];
    const child = spawnDeno("examples/paper.ts", [...args, "--backend", "cpu", "--out", dir]);
    const watch = exitWatch(child);
    // The first event comes at step 25 (logEvery 25): then stop it.
    const started = async () => (await lines(`${dir}/gsm8k/ce/events.jsonl`)).length > 0;
    assert(await waitFor(started, { child: watch, ms: 50, timeoutMs: 60_000 }), "it trained");
    child.kill("SIGTERM");
    const r = await finish(child);
    assertEquals(r.code, 143, r.err);
    assert(r.out.includes(`interrupted by SIGTERM: continue with --resume ${dir}`), r.out);
    const saved = await listCheckpoints(`${dir}/gsm8k/ce/checkpoints`);
    assertEquals(saved.length, 1);
    assert(Number(saved[0].slice(-8)) < 400, saved[0]);
    const again = await finish(spawnDeno("examples/paper.ts", ["--resume", dir]));
    assertEquals(again.code, 0, again.err);
    await assertSound(dir);
    await Deno.remove(dir, { recursive: true });
  },
});

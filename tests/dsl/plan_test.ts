import { parse } from "yaml";
import {
  mergeResults,
  pipeline,
  PipelineError,
  pipelineFromJSON,
  readPlan,
  sweep,
  toJSON,
} from "../../mod.ts";
import { main as train } from "../../src/dsl/run/cli.ts";
import { main as report } from "../../src/dsl/report/cli.ts";
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { bigram, tinySpec } from "./_tiny.ts";

const TINY = new URL("./_tiny.ts", import.meta.url).href;
const AXES = { loss: ["ce", "focal", "dice"], seed: [1, 2] };

function tinyBase() {
  return pipeline(tinySpec({
    eval: { kind: "exact-match", options: { maxNewTokens: 4 } },
    steps: 6,
    logEvery: 3,
    checkpoint: { dir: "checkpoints", every: 3 },
  }));
}

/** Runs `f` with console.log and console.error collected, and returns them with its value. */
async function quietly<T>(f: () => Promise<T>): Promise<[T, string]> {
  const { log, error } = console;
  const lines: string[] = [];
  console.log = console.error = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    return [await f(), lines.join("\n")];
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** A results.json row without what depends on the machine's speed. */
// deno-lint-ignore no-explicit-any
const untimed = ({ trainSeconds: _s, tokensPerSecond: _t, ...rest }: any) => rest;

/** results.md with the cells of its timing columns blanked. */
function maskTimes(md: string): string {
  const lines = md.trim().split("\n");
  const head = lines[0].split("|").map((c) => c.trim());
  const timed = head.flatMap((c, i) => c === "train s" || c === "tokens/s" ? [i] : []);
  return lines.map((l, n) =>
    n < 2 ? l : l.split("|").map((c, i) => timed.includes(i) ? " _ " : c).join("|")
  ).join("\n");
}

Deno.test("plan: six variants, --run-local --workers 2, merge into sweep's table", async () => {
  const tmp = await Deno.makeTempDir();
  const base = tinyBase();
  const config = `${tmp}/sweep.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({ pipeline: toJSON(base), axes: AXES, imports: [TINY], parallelism: 2 }),
  );
  const [wrote, said] = await quietly(() => train(["--plan", `${tmp}/plan`, config]));
  assertEquals(wrote, 0, said);
  const plan = (await readPlan(`${tmp}/plan`))!;
  assertEquals(plan.variants.map((v) => [v.index, v.label, v.file]), [
    [0, "loss=ce seed=1", "variant-0.json"],
    [1, "loss=ce seed=2", "variant-1.json"],
    [2, "loss=focal seed=1", "variant-2.json"],
    [3, "loss=focal seed=2", "variant-3.json"],
    [4, "loss=dice seed=1", "variant-4.json"],
    [5, "loss=dice seed=2", "variant-5.json"],
  ]);
  for (const v of plan.variants) {
    // Each file alone is the variant's pipeline.
    const p = pipelineFromJSON(await Deno.readTextFile(`${tmp}/plan/${v.file}`));
    assertEquals([p.name, p.seed, p.loss.spec?.kind], [
      v.label,
      Number(v.variant.seed),
      v.variant.loss,
    ]);
  }

  const out = `${tmp}/out`;
  const started = performance.now();
  const [ran, log] = await quietly(() =>
    train(["--plan", `${tmp}/plan`, "--run-local", "--workers", "2", "--out", out, "--quiet"])
  );
  const seconds = (performance.now() - started) / 1000;
  assertEquals(ran, 0, log);
  assert(log.includes("6 of 6 variants done"), log);
  console.log(`6-variant plan, --workers 2: ${seconds.toFixed(1)} s`);

  const direct = `${tmp}/direct`;
  await sweep(base, AXES, { out: direct, progress: false });
  const rows = async (d: string) =>
    JSON.parse(await Deno.readTextFile(`${d}/results.json`)).rows.map(untimed);
  const merged = await rows(out);
  assertEquals(merged.length, 6);
  assertEquals(merged, await rows(direct));
  assertEquals(
    maskTimes(await Deno.readTextFile(`${out}/results.md`)),
    maskTimes(await Deno.readTextFile(`${direct}/results.md`)),
  );
  for (const v of plan.variants) {
    for (const f of ["events.jsonl", "pipeline.json", "result.json", "checkpoints/step-00000006"]) {
      assert(await Deno.stat(`${out}/${v.folder}/${f}`).then(() => true), `${v.folder}/${f}`);
    }
  }
  assert(await Deno.stat(`${out}/curves.svg`).then((s) => s.isFile));
  // The output root knows its plan, so report --merge can list what is missing from it.
  assertEquals((await readPlan(out))?.variants.length, 6);

  // Run again: every variant is kept, none trains.
  const [again, againLog] = await quietly(() =>
    train(["--plan", `${tmp}/plan`, "--run-local", "--out", out, "--quiet"])
  );
  assertEquals(again, 0, againLog);
  assertEquals(await rows(out), merged);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("plan: slurm.sh passes bash -n and runs its index's variant, paths quoted", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "plan it's " }); // a space and a quote
  const dir = `${tmp}/plan`;
  const plan = await sweep(tinyBase(), AXES, {
    plan: dir,
    name: "tiny grid",
    imports: [TINY],
    parallelism: 2,
    slurm: { directives: ["--time=00:10:00"] },
  });
  assertEquals(plan.files.slurm, `${dir}/slurm.sh`);
  const script = await Deno.readTextFile(plan.files.slurm);
  const check = await new Deno.Command("bash", { args: ["-n", plan.files.slurm] }).output();
  assertEquals(check.code, 0, new TextDecoder().decode(check.stderr));
  for (
    const line of [
      "#SBATCH --job-name=tiny_grid",
      "#SBATCH --array=0-5%2",
      `#SBATCH "--output=${dir}/logs/%x-%A_%a.log"`,
      "#SBATCH --time=00:10:00",
    ]
  ) assert(script.includes(`\n${line}\n`), `${line} in\n${script}`);

  // With a stand-in for deno, the script shows the command it runs for task 3.
  const fake = `${tmp}/fake-deno`;
  await Deno.writeTextFile(fake, '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n');
  await Deno.chmod(fake, 0o755);
  const run = await new Deno.Command("bash", {
    args: [plan.files.slurm],
    env: {
      SLURM_ARRAY_TASK_ID: "3",
      DENO: fake,
      LOSSFORGE_OUT: `${tmp}/out`,
      LOSSFORGE_PROJECT: tmp,
    },
  }).output();
  assertEquals(run.code, 0, new TextDecoder().decode(run.stderr));
  assertEquals(new TextDecoder().decode(run.stdout).trim().split("\n"), [
    "task",
    "train",
    `${dir}/variant-3.json`,
    "--out",
    `${tmp}/out/loss=focal_seed=2`,
    "--import",
    TINY,
  ]);
  assertEquals((await readPlan(`${tmp}/out`))?.variants[3].label, "loss=focal seed=2");
  const wrong = await new Deno.Command("bash", {
    args: [plan.files.slurm],
    env: { SLURM_ARRAY_TASK_ID: "6", DENO: fake, LOSSFORGE_PROJECT: tmp },
  }).output();
  assertEquals(wrong.code, 2);
  assert(new TextDecoder().decode(wrong.stderr).includes("no variant 6 in this plan (0-5)"));
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("plan: job.yaml is an Indexed Job whose command runs $JOB_COMPLETION_INDEX", async () => {
  const tmp = await Deno.makeTempDir();
  const dir = `${tmp}/plan`;
  const plan = await sweep(tinyBase(), AXES, { plan: dir, name: "Tiny Grid", retries: 2 });
  const text = await Deno.readTextFile(plan.files.job);
  assert(text.includes("<IMAGE:") && text.includes("<CLAIM:"), "placeholders are marked");
  const job = parse(text);
  assertEquals([job.apiVersion, job.kind, job.metadata.name], ["batch/v1", "Job", "tiny-grid"]);
  assertEquals(job.spec.completionMode, "Indexed");
  assertEquals(job.spec.completions, 6);
  assertEquals(job.spec.parallelism, 6);
  assertEquals(job.spec.backoffLimitPerIndex, 2);
  const pod = job.spec.template.spec;
  assertEquals(pod.restartPolicy, "Never");
  const [container] = pod.containers;
  assertEquals(container.command.slice(0, 2), ["sh", "-c"]);
  const script: string = container.command[2];
  assert(script.includes("JOB_COMPLETION_INDEX"), script);
  assertEquals(container.volumeMounts[0].name, pod.volumes[0].name);

  // The options fill the placeholders.
  const set = await sweep(tinyBase(), AXES, {
    plan: dir,
    kubernetes: { image: "registry.example/lossforge:1", claimName: "runs", workingDir: "/app" },
  });
  const filled = parse(await Deno.readTextFile(set.files.job)).spec.template.spec;
  assertEquals(filled.containers[0].image, "registry.example/lossforge:1");
  assertEquals(filled.containers[0].workingDir, "/app");
  assertEquals(filled.volumes[0].persistentVolumeClaim.claimName, "runs");

  // The pod's script, run by sh with a stand-in for deno, trains the index's variant.
  const fake = `${tmp}/fake-deno`;
  await Deno.writeTextFile(fake, '#!/bin/sh\necho "$3 $5"\n');
  await Deno.chmod(fake, 0o755);
  const run = await new Deno.Command("sh", {
    args: ["-c", script],
    env: { JOB_COMPLETION_INDEX: "4", DENO: fake, LOSSFORGE_OUT: `${tmp}/out` },
  }).output();
  assertEquals(run.code, 0, new TextDecoder().decode(run.stderr));
  assertEquals(
    new TextDecoder().decode(run.stdout).trim(),
    `${dir}/variant-4.json ${tmp}/out/loss=dice_seed=1`,
  );
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("plan: a merge lists the missing and names a corrupt result by path", async () => {
  const tmp = await Deno.makeTempDir();
  const dir = `${tmp}/plan`;
  const base = pipeline(tinySpec({ steps: 2, logEvery: 1 }));
  const plan = await sweep(base, { loss: ["ce", "focal", "dice"] }, { plan: dir });
  // One variant trained as an array task would train it (its folder from plan.json).
  const [code, log] = await quietly(() => train([plan.files.variants[0], "--quiet"]));
  assertEquals(code, 0, log);
  assert(log.includes(`variant 0 (loss=ce) done: ${dir}/loss=ce/result.json`), log);
  const one = await mergeResults([dir]);
  assertEquals(one.table.rows.map((r) => r.label), ["loss=ce"]);
  assertEquals(one.missing.map((v) => [v.index, v.label]), [[1, "loss=focal"], [2, "loss=dice"]]);
  assertEquals(one.problems, []);
  assertEquals(one.out, dir);

  const [partial, listed] = await quietly(() => report(["--merge", dir]));
  assertEquals(partial, 3, listed);
  assert(listed.includes("1 of 3 variants finished"), listed);
  assert(listed.includes("  1  loss=focal  (loss=focal)"), listed);
  assert(listed.includes("  2  loss=dice  (loss=dice)"), listed);
  assert(listed.includes("sbatch --array=1,2 "), listed);

  const corrupt = `${dir}/loss=focal/result.json`;
  await Deno.mkdir(`${dir}/loss=focal`);
  await Deno.writeTextFile(corrupt, '{"label": "loss=focal", "metr');
  const bad = await mergeResults([dir], { report: false });
  assertEquals(bad.problems.map((p) => p.path), [corrupt]);
  assert(bad.problems[0].message.startsWith("cannot be read: "), bad.problems[0].message);
  assertEquals(bad.missing.map((v) => v.index), [1, 2]);
  const [failed, said] = await quietly(() => report(["--merge", dir]));
  assertEquals(failed, 1, said);
  assert(said.includes(`error: ${corrupt}: cannot be read`), said);

  // A second output root (another cluster's) completes the first.
  const other = `${tmp}/other`;
  await Deno.remove(corrupt);
  for (const i of [1, 2]) {
    const v = plan.variants[i];
    const [c, l] = await quietly(() =>
      train([plan.files.variants[i], "--out", `${other}/${v.folder}`, "--quiet"])
    );
    assertEquals(c, 0, l);
  }
  await Deno.copyFile(plan.files.plan, `${other}/plan.json`);
  const [all, allLog] = await quietly(() => report(["--merge", dir, other, "--out", `${tmp}/all`]));
  assertEquals(all, 0, allLog);
  const merged = JSON.parse(await Deno.readTextFile(`${tmp}/all/results.json`));
  assertEquals(
    merged.rows.map((r: { label: string }) => r.label),
    plan.variants.map((v) => v.label),
  );
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("plan: a variant without a spec is named; bad configs name the field", async () => {
  const base = pipeline(tinySpec({ steps: 2 }));
  const { init, apply } = bigram({ vocab: 259, dim: 8 });
  const tmp = await Deno.makeTempDir();
  await assertRejects(
    () =>
      sweep(
        base,
        { model: { plain: { init, apply }, described: bigram({ vocab: 259, dim: 8 }) } },
        {
          plan: tmp,
        },
      ),
    PipelineError,
    'plan (variant "model=plain"): model: cannot go to another machine as JSON',
  );
  assertEquals(await readPlan(tmp), undefined, "nothing written");
  const config = `${tmp}/bad.json`;
  await Deno.writeTextFile(config, JSON.stringify({ pipeline: toJSON(base), axes: { lr: [1] } }));
  const [code, said] = await quietly(() => train(["--plan", `${tmp}/p`, config]));
  assertEquals(code, 2);
  assert(said.includes("axes.lr: unknown axis (known: loss, seed, model, optimizer)"), said);
  await Deno.writeTextFile(config, JSON.stringify({ pipeline: toJSON(base), axes: {}, cpus: 2 }));
  const [code2, said2] = await quietly(() => train(["--plan", `${tmp}/p`, config]));
  assertEquals(code2, 2);
  assert(said2.includes("cpus: unknown field (known: pipeline, axes, out,"), said2);
  await Deno.remove(tmp, { recursive: true });
});

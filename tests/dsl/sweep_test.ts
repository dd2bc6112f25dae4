import {
  inlineData,
  pipeline,
  PipelineError,
  plotCurves,
  report,
  sweep,
  type SweepRow,
  toCsv,
  toMarkdown,
} from "../../mod.ts";
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { checkXml } from "./_xml.ts";
import { bigram, tinySpec } from "./_tiny.ts";

Deno.test("sweep: every loss x seed combination, then report and plot", async () => {
  const rows = Array.from({ length: 16 }, (_, i) => ({
    prompt: `Q${i % 4}: `,
    target: `<<${i % 4}+1=${(i % 4) + 1}>> #### ${(i % 4) + 1}`,
  }));
  const base = pipeline(tinySpec({
    data: inlineData({ train: rows, eval: rows.slice(0, 4), maxLength: 32 }),
    eval: { kind: "exact-match", options: { maxNewTokens: 4 } },
    steps: 6,
    logEvery: 3,
  }));
  const seen: string[] = [];
  const table = await sweep(base, {
    loss: ["ce", {
      kind: "combine",
      options: { terms: [["ce", 0.6], ["dice", 0.4, { mask: "answer" }]] },
    }],
    seed: [1, 2],
  }, { progress: false, onEvent: (label, e) => e.step === 6 && seen.push(label) });
  assertEquals(table.axes, ["loss", "seed"]);
  assertEquals(table.rows.map((r) => r.label), [
    "loss=ce seed=1",
    "loss=ce seed=2",
    "loss=0.6*ce+0.4*dice@answer seed=1",
    "loss=0.6*ce+0.4*dice@answer seed=2",
  ]);
  assertEquals(seen, table.rows.map((r) => r.label));
  for (const r of table.rows) {
    assertEquals(r.metrics.count, 4);
    assert(r.metrics.exactMatch >= 0 && r.metrics.exactMatch <= 1);
    assert(r.steps === 6 && r.curve.length === 2 && r.trainSeconds > 0 && !r.error);
  }
  assert(table.rows[0].loss !== table.rows[1].loss, "seeds differ");

  const dir = await Deno.makeTempDir();
  const files = await report(table, dir);
  const md = await Deno.readTextFile(files.markdown);
  assert(md.startsWith("| loss | seed | final loss | exactMatch |"), md);
  // The runs' table (one line per variant), then the comparison of the losses over seeds.
  const [runs, comparison] = md.split("\n## Comparison: exactMatch, 95% intervals\n");
  assertEquals(runs.trim().split("\n").length, 6);
  assertEquals(comparison.trim().split("\n").filter((l) => l.startsWith("|")).length, 4);
  const csv = (await Deno.readTextFile(files.csv)).trim().split("\n");
  assertEquals(csv.length, 5);
  assert(csv[3].startsWith("0.6*ce+0.4*dice@answer,1,"), csv[3]);
  assertEquals(JSON.parse(await Deno.readTextFile(files.json)).rows.length, 4);
  await plotCurves(table.rows, `${dir}/curves.svg`);
  checkXml(await Deno.readTextFile(`${dir}/curves.svg`));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("report: CSV quoting and Markdown escaping of odd labels", () => {
  const row = {
    label: "x",
    variant: { loss: 'a,"b"|c' },
    metrics: { exactMatch: 0.5 },
    loss: NaN,
    steps: 3,
    trainSeconds: 1,
    tokensPerSecond: 10,
    skipped: 0,
    curve: [],
    error: "loss is NaN at step 3",
  };
  const table = { axes: ["loss"], rows: [row] };
  assert(toCsv(table).split("\n")[1].startsWith(`"a,""b""|c",NaN,0.5000,3,`));
  const md = toMarkdown(table);
  assert(md.includes('a,"b"\\|c') && md.includes("Failed runs:") && md.includes("| error |"));
});

/** A tiny serialisable base pipeline with an evaluator and checkpoints. */
function tinyBase() {
  return pipeline(tinySpec({
    eval: { kind: "exact-match", options: { maxNewTokens: 4 } },
    steps: 6,
    logEvery: 3,
    // With `out`, sweep keeps each variant's checkpoints in out/<folder>/checkpoints instead
    // (were this folder written, the test would fail).
    checkpoint: { dir: "/nonexistent/sweep-moves-this", every: 3, keep: 1 },
  }));
}

const LOSSES = {
  ce: "ce",
  dice: { kind: "combine", options: { terms: [["ce", 0.6], ["dice", 0.4, { mask: "answer" }]] } },
};
const same = (r: SweepRow) => ({
  loss: r.loss,
  curve: r.curve,
  metrics: r.metrics,
  steps: r.steps,
});

Deno.test("sweep: workers, labels and folders give the same numbers as one thread", async () => {
  const one = await Deno.makeTempDir(), two = await Deno.makeTempDir();
  const options = {
    folder: (v: Readonly<Record<string, string>>) => v.loss,
    label: (v: Readonly<Record<string, string>>) => `loss ${v.loss}`,
  };
  const here = await sweep(tinyBase(), { loss: LOSSES }, { ...options, out: one, progress: false });
  const lines: string[] = [];
  const apart = await sweep(tinyBase(), { loss: LOSSES }, {
    ...options,
    out: two,
    workers: 2,
    // The workers build the pipeline from JSON: they need the test's own model registered.
    imports: [new URL("./_tiny.ts", import.meta.url)],
    progressWrite: (t) => lines.push(t),
  });
  assertEquals(apart.stopped, "completed");
  assertEquals(apart.rows.map((r) => r.label), ["loss ce", "loss dice"]);
  assertEquals(apart.rows.map(same), here.rows.map(same));
  assert(lines[0].startsWith("2 run(s) on cpu, 2 at a time in workers"), lines[0]);
  assert(lines.some((l) => l.startsWith("loss dice") && l.includes("step 6/6")), lines.join(""));
  for (const dir of [one, two]) {
    for (const f of ["results.md", "results.csv", "results.json", "curves.svg"]) {
      assert(await Deno.stat(`${dir}/${f}`).then((s) => s.isFile), `${dir}/${f}`);
    }
    for (const loss of ["ce", "dice"]) {
      const events = await Deno.readTextFile(`${dir}/${loss}/events.jsonl`);
      assertEquals(events.trim().split("\n").length, 2);
      const p = JSON.parse(await Deno.readTextFile(`${dir}/${loss}/pipeline.json`));
      assertEquals([p.name, p.checkpoint.dir], [`loss ${loss}`, `${dir}/${loss}/checkpoints`]);
    }
  }
  const json = JSON.parse(await Deno.readTextFile(`${two}/results.json`));
  assertEquals(json.rows.length, 2);
  await Deno.remove(one, { recursive: true });
  await Deno.remove(two, { recursive: true });
});

Deno.test("sweep: resume keeps finished variants and continues the interrupted one", async () => {
  const wholeDir = await Deno.makeTempDir();
  const whole = await sweep(tinyBase(), { loss: LOSSES }, { out: wholeDir, progress: false });
  const dir = await Deno.makeTempDir();
  const stop = new AbortController();
  const first = await sweep(tinyBase(), { loss: LOSSES }, {
    out: dir,
    progress: false,
    signal: stop.signal,
    onEvent: (label, e) => label === "loss=dice" && e.step === 3 && stop.abort(),
  });
  assertEquals(first.stopped, "interrupted");
  assertEquals(first.rows.map((r) => r.label), ["loss=ce"]);
  assert(await Deno.stat(`${dir}/loss=dice/checkpoints/step-00000003`).then(() => true));

  const trained: string[] = [];
  const second = await sweep(tinyBase(), { loss: LOSSES }, {
    out: dir,
    progress: false,
    resume: true,
    onEvent: (label, e) => trained.push(`${label}@${e.step}`),
  });
  assertEquals(trained, ["loss=dice@6"]);
  assertEquals(second.stopped, "completed");
  assertEquals(second.rows.map(same), whole.rows.map(same));
  const md = await Deno.readTextFile(`${dir}/results.md`);
  const [runs, comparison] = md.split("\n## Comparison: exactMatch, 95% intervals\n");
  assertEquals(runs.trim().split("\n").length, 4, md);
  assert(comparison.includes("| dice | 1 | 4 |"), md);
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(wholeDir, { recursive: true });
});

Deno.test("sweep: workers need pipelines with specs; folders must differ", async () => {
  const base = pipeline(tinySpec({ steps: 2 }));
  const { init, apply } = bigram({ vocab: 259, dim: 8 });
  const closure = pipeline({ ...base, model: { init, apply } }); // a model without a spec
  await assertRejects(
    () => sweep(closure, { seed: [1, 2] }, { workers: 2, progress: false }),
    PipelineError,
    "sweep.workers",
  );
  // "auto" trains such pipelines here, one after another.
  const table = await sweep(closure, { seed: [1, 2] }, { workers: "auto", progress: false });
  assertEquals(table.rows.length, 2);
  await assertRejects(
    () =>
      sweep(base, { seed: [1, 2] }, { out: "/tmp/never", folder: () => "same", progress: false }),
    PipelineError,
    "both write to /tmp/never/same",
  );
});

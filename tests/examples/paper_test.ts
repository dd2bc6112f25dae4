// The paper's grid, run as a user would: `--smoke` trains every task with every loss in a
// subprocess and must write every table and plot, well-formed, in under two minutes.
import { assert, assertEquals } from "../_assert.ts";
import { checkXml } from "../dsl/_xml.ts";
import { jsonl, tempDir, writeAt, zip } from "../data/_files.ts";
import { assertBadInput, runExample } from "./_run.ts";

const TITLES = {
  gsm8k: "GSM8K",
  mathqa: "MathQA",
  openbookqa: "OpenBookQA",
  hellaswag: "HellaSwag",
};
const LABELS = [
  "CE",
  "0.6 CE + 0.4 Focal",
  "0.6 CE + 0.4 Lovász",
  "0.6 CE + 0.4 GDice",
  "0.6 CE + 0.4 SADice",
];

interface Results {
  data: string;
  metrics: { test: string; validation: string };
  tasks: Record<string, {
    title: string;
    metric: string;
    rows: {
      loss: string;
      label: string;
      test: Record<string, number>;
      validation: Record<string, number>;
      relativeToCe: number | null;
      steps: number;
    }[];
  }>;
  relativeToCe: { perLoss: Record<string, Record<string, number | null>>; meanBest: number | null };
}

/** Every file of a finished run in `dir`, checked for shape; returns results.json. */
async function assertRun(
  dir: string,
  tasks: (keyof typeof TITLES)[],
  labels: string[],
  limit: number,
): Promise<Results> {
  const md = await Deno.readTextFile(`${dir}/results.md`);
  const results: Results = JSON.parse(await Deno.readTextFile(`${dir}/results.json`));
  assertEquals(Object.keys(results.tasks), tasks);
  assert(results.metrics.test.includes("greedy"), results.metrics.test);
  assert(results.metrics.validation.includes("teacher-forced"), results.metrics.validation);
  for (const task of tasks) {
    const t = results.tasks[task];
    assertEquals(t.rows.map((r) => r.label), labels);
    const metric = task === "gsm8k" || task === "mathqa" ? "exactMatch" : "accuracy";
    assertEquals(t.metric, metric);
    for (const r of t.rows) {
      assertEquals(r.test.count, limit, `${task} ${r.loss} test`);
      assert(r.test[metric] >= 0 && r.test[metric] <= 1, `${task} ${r.loss}: ${r.test[metric]}`);
      assert(r.validation[metric] >= 0 && r.validation[metric] <= 1, `${task} ${r.loss} val`);
      assert(r.steps >= 1, `${task} ${r.loss} steps`);
      if (r.loss === "ce") assertEquals(r.relativeToCe, null);
    }
    // The task's table: a heading, the paper's columns, one row per loss.
    const own = await Deno.readTextFile(`${dir}/${task}/results.md`);
    for (const text of [md, own]) {
      assert(text.includes(`## ${TITLES[task]}: `), `${task} heading in ${text}`);
      const table = text.slice(text.indexOf(`## ${TITLES[task]}: `)).split("\n## ")[0];
      const rows = table.split("\n").filter((l) => l.startsWith("| "));
      assert(rows[0].includes("(test, greedy) | vs CE |"), rows[0]);
      assert(rows[0].includes("(validation, teacher-forced)"), rows[0]);
      assertEquals(rows.slice(1).map((l) => l.split(" | ")[0].slice(2)), labels);
      const cells = rows[0].split(" | ").length;
      for (const l of rows) assertEquals(l.split(" | ").length, cells, l);
    }
    const svg = await Deno.readTextFile(`${dir}/${task}/curves.svg`);
    checkXml(svg);
    for (const l of labels) assert(svg.includes(l), `${task} plot: ${l}`);
    for (const loss of t.rows.map((r) => r.loss)) {
      assert(await Deno.stat(`${dir}/${task}/${loss}/test.json`).then((s) => s.isFile), loss);
    }
  }
  assert(md.includes("## Relative change of the test metric against CE"), md);
  assert(md.includes("Mean relative improvement across tasks"), md);
  for (const l of labels.slice(1)) assert(md.includes(`| ${l} |`), `${l} in the summary`);
  // The step metrics: a header, then one line per logged step of every run.
  const csv = (await Deno.readTextFile(`${dir}/steps.csv`)).trim().split("\n");
  const head = csv[0].split(",");
  assertEquals(head.slice(0, 3), ["task", "loss", "step"]);
  assert(head.includes("val_tf_accuracy") && head.includes("val_tf_exactMatch"), csv[0]);
  assert(csv.length - 1 >= tasks.length * labels.length, `${csv.length - 1} step lines`);
  for (const line of csv) assertEquals(line.split(",").length, head.length, line);
  return results;
}

Deno.test("paper example: --smoke runs the whole grid, every table and plot, in under 2 minutes", async () => {
  const dir = await Deno.makeTempDir();
  const t0 = performance.now();
  const r = await runExample("paper.ts", ["--smoke", "--backend", "cpu", "--out", dir]);
  const seconds = (performance.now() - t0) / 1000;
  assertEquals(r.code, 0, r.err);
  assert(seconds < 120, `the smoke grid took ${seconds.toFixed(1)} s`);
  assert(r.out.includes("No --model: trained from scratch"), r.out);
  assert(r.out.includes("No --data: synthetic records"), r.out);
  assert(r.out.includes("Mean relative improvement across tasks"), r.out);
  const tasks = ["gsm8k", "mathqa", "openbookqa", "hellaswag"] as const;
  const first = await assertRun(dir, [...tasks], LABELS, 2);
  assert(first.data.startsWith("synthetic"), first.data);
  // A resumed finished run keeps every score.
  const again = await runExample("paper.ts", ["--resume", dir]);
  assertEquals(again.code, 0, again.err);
  const second = await assertRun(dir, [...tasks], LABELS, 2);
  assertEquals(second.tasks, first.tasks);
});

/** MathQA as its release archive and HellaSwag as its JSONL files, a few records each. */
async function realFormatData(): Promise<{ mathqa: string; hellaswag: string }> {
  const mathqa = await tempDir(), hellaswag = await tempDir();
  const problem = (i: number) => ({
    Problem: `a number divided by ${i + 2} gives ${i + 3} . the number is ?`,
    Rationale: `"${i + 2} * ${i + 3} = ${(i + 2) * (i + 3)}"`,
    options: `a ) ${(i + 2) * (i + 3)} , b ) 7 , c ) 9 , d ) data inadequate , e ) none`,
    correct: "a",
    annotated_formula: `multiply(${i + 2}, ${i + 3})`,
    linear_formula: "multiply(n0,n1)|",
    category: "general",
  });
  const many = (n: number) => JSON.stringify(Array.from({ length: n }, (_, i) => problem(i)));
  await writeAt(
    mathqa,
    "MathQA.zip",
    zip({ "train.json": many(6), "dev.json": many(2), "test.json": many(2) }),
  );
  const item = (i: number) => ({
    ind: i,
    activity_label: "Cooking",
    ctx_a: `A cook cuts ${i} onions.`,
    ctx_b: "then",
    ctx: `A cook cuts ${i} onions. then`,
    split: "train",
    split_type: "indomain",
    label: i % 4,
    endings: ["fries them.", "sings.", "leaves.", "sleeps."],
    source_id: `s${i}`,
  });
  await writeAt(
    hellaswag,
    "hellaswag_train.jsonl",
    jsonl(Array.from({ length: 20 }, (_, i) => item(i))),
  );
  await writeAt(hellaswag, "hellaswag_val.jsonl", jsonl([item(30), item(31)]));
  return { mathqa, hellaswag };
}

Deno.test("paper example: --data reads the tasks' own files, --masking paper reaches the losses", async () => {
  const data = await realFormatData();
  const dir = await Deno.makeTempDir();
  const r = await runExample("paper.ts", [
    "--smoke",
    "--backend",
    "cpu",
    "--tasks",
    "mathqa,hellaswag",
    "--losses",
    "ce,gdice",
    "--masking",
    "paper",
    "--data",
    `mathqa=${data.mathqa},hellaswag=${data.hellaswag}`,
    "--out",
    dir,
  ]);
  assertEquals(r.code, 0, r.err);
  assert(!r.out.includes("No --data"), r.out);
  const results = await assertRun(dir, ["mathqa", "hellaswag"], ["CE", "0.6 CE + 0.4 GDice"], 2);
  assertEquals(results.data, "given with --data");
  const spec = JSON.parse(await Deno.readTextFile(`${dir}/mathqa/gdice/pipeline.json`));
  assertEquals(spec.loss.options.masking, "paper");
  assertEquals(spec.loss.options.terms[1][0], { kind: "gdice", options: { masking: "paper" } });
});

Deno.test("paper example: bad input is one line on stderr, exit code 2, nothing written", async () => {
  await assertBadInput("paper.ts", [
    [["--tasks", "gsm8k,squad"], 'unknown task "squad"'],
    [["--losses", "ce,l2"], 'unknown loss "l2"'],
    [["--lr", "gsm8k=fast"], '--lr: expected a number, got "fast"'],
    [["--epochs", "piqa=3"], '--epochs: unknown task "piqa"'],
    [["--batch", "0"], "--batch: must be >= 1"],
    [["--masking", "zero"], "--masking: expected exclude or paper"],
    [["--data", "/nonexistent/lossforge"], "gsm8k: "],
    [["--data", "gsm8k=/nonexistent"], "--data: no folder for mathqa"],
    [["--lora-targets", "paper"], "--lora-targets: applies to --model runs only"],
    [["--mirror", "http://127.0.0.1:1"], "--mirror: applies with --download only"],
    [["--model", "/nonexistent"], "no config.json there"],
    [["--resume", "/nonexistent"], "no readable run.json"],
    [["--dim", "10"], "--dim: must be a multiple of 4"],
  ]);
});

// The tiny Llama folder the project shares (../shared beside the repository); without it this
// test is skipped, except in CI (env CI set), where a missing model is a failure.
const root = new URL("../../", import.meta.url).pathname;
const model = decodeURIComponent(
  new URL("../shared/models/tiny-llama-hf", `file://${root}`).pathname,
);
const haveModel = await Deno.stat(`${model}/config.json`).then(() => true, () => false);
const inCi = (Deno.env.get("CI") ?? "") !== "";
if (!haveModel) {
  console.log(
    `paper example --model test: ${model} not found${inCi ? " (CI: failing)" : "; skipped"}`,
  );
}

/** The tensor names in a safetensors file's header. */
async function tensorNames(path: string): Promise<string[]> {
  const bytes = await Deno.readFile(path);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  return Object.keys(header).filter((k) => k !== "__metadata__");
}

Deno.test({
  name: "paper example: --model fine-tunes LoRA adapters on each task, with the model's tokenizer",
  ignore: !haveModel && !inCi,
  async fn() {
    assert(haveModel, `${model}/config.json is missing`);
    const dir = await Deno.makeTempDir();
    const r = await runExample("paper.ts", [
      "--smoke",
      "--backend",
      "cpu",
      "--model",
      model,
      "--tasks",
      "openbookqa,gsm8k",
      "--losses",
      "ce,lovasz",
      "--out",
      dir,
    ]);
    assertEquals(r.code, 0, r.err);
    assert(!r.out.includes("No --model"), r.out);
    const results = await assertRun(dir, ["openbookqa", "gsm8k"], ["CE", "0.6 CE + 0.4 Lovász"], 2);
    const about = JSON.parse(await Deno.readTextFile(`${dir}/results.json`)).model as string;
    assert(about.includes("LoRA r=8, alpha=16, dropout=0.05"), about);
    // Only the adapters are trained, so only they are in the checkpoint.
    const ckpt = `${dir}/gsm8k/ce/checkpoints`;
    const [step] = [...Deno.readDirSync(ckpt)].map((e) => e.name);
    const names = await tensorNames(`${ckpt}/${step}/params.safetensors`);
    assert(names.length > 0 && names.every((n) => n.includes("lora")), names.join(", "));
    assert(results.tasks.gsm8k.rows.every((r) => r.test.count === 2));
  },
});

Deno.test("paper example: --seeds trains each cell per seed and compares the test results", async () => {
  const dir = await Deno.makeTempDir();
  const r = await runExample("paper.ts", [
    "--smoke",
    "--backend",
    "cpu",
    "--tasks",
    "gsm8k,openbookqa",
    "--losses",
    "ce,focal",
    "--seeds",
    "1,2",
    "--out",
    dir,
  ]);
  assertEquals(r.code, 0, r.err);
  const results = JSON.parse(await Deno.readTextFile(`${dir}/results.json`));
  for (const [task, metric] of [["gsm8k", "exactMatch"], ["openbookqa", "accuracy"]]) {
    const t = results.tasks[task];
    assertEquals(t.rows.map((x: { seed: string }) => x.seed), ["1", "2", "1", "2"]);
    for (const x of t.rows) assertEquals(x.problems.correct.length, 2, `${task} ${x.label}`);
    assertEquals(t.comparison.metric, metric);
    assertEquals(t.comparison.groups.map((g: { seeds: string[] }) => g.seeds), [
      ["1", "2"],
      ["1", "2"],
    ]);
    assertEquals(t.comparison.groups[1].versus.tests.length, 2);
    const md = await Deno.readTextFile(`${dir}/${task}/results.md`);
    assert(md.includes(`## Comparison: ${metric}, 95% intervals`), md);
    const kept = JSON.parse(await Deno.readTextFile(`${dir}/${task}/focal-seed2/test.json`));
    assertEquals(kept.problems.ids.length, 2);
  }
});

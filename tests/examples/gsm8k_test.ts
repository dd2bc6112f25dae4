// Smoke tests of the flagship, run as a user would: a subprocess, tiny settings, two losses.
import { assert, assertEquals } from "../_assert.ts";
import { assertBadInput, runExample } from "./_run.ts";

const TINY = [
  "--steps",
  "2",
  "--batch",
  "2",
  "--dim",
  "16",
  "--layers",
  "1",
  "--limit",
  "2",
  "--backend",
  "cpu",
];

async function assertOutputs(dir: string, rows: number): Promise<void> {
  const results = JSON.parse(await Deno.readTextFile(`${dir}/results.json`));
  assertEquals(results.rows.length, rows);
  for (const r of results.rows) {
    assert(r.exactMatch >= 0 && r.exactMatch <= 1, `exact match ${r.exactMatch}`);
  }
  const md = await Deno.readTextFile(`${dir}/results.md`);
  assert(md.includes("| loss | exact match |"), "results.md has the table");
  const svg = await Deno.readTextFile(`${dir}/curves.svg`);
  assert(svg.startsWith("<svg") || svg.startsWith("<?xml"), "curves.svg is an SVG");
}

Deno.test("gsm8k example: synthetic smoke run writes the three files", async () => {
  const dir = await Deno.makeTempDir();
  const r = await runExample("gsm8k.ts", [...TINY, "--losses", "ce,focal", "--out", dir]);
  assertEquals(r.code, 0, r.err);
  assert(r.out.includes("| ce |"), r.out);
  // Not a terminal: plain progress lines, no cursor moves.
  assert(r.out.includes("step 2/2") && !r.out.includes("\x1b["), r.out);
  await assertOutputs(dir, 2);
  for (const loss of ["ce", "focal"]) {
    assert(await Deno.stat(`${dir}/${loss}/events.jsonl`).then((s) => s.isFile), loss);
  }
});

Deno.test("gsm8k example: in-process GPT run, then --resume keeps finished rows", async () => {
  const dir = await Deno.makeTempDir();
  const r = await runExample("gsm8k.ts", [
    ...TINY,
    "--losses",
    "ce,sadice",
    "--workers",
    "1",
    "--arch",
    "gpt",
    "--out",
    dir,
  ]);
  assertEquals(r.code, 0, r.err);
  await assertOutputs(dir, 2);
  const before = JSON.parse(await Deno.readTextFile(`${dir}/results.json`)).rows;
  const again = await runExample("gsm8k.ts", ["--resume", dir]);
  assertEquals(again.code, 0, again.err);
  assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/results.json`)).rows, before);
});

Deno.test("gsm8k example: --data reads GSM8K JSONL files", async () => {
  const data = await Deno.makeTempDir();
  const line = (q: string, a: string) => JSON.stringify({ question: q, answer: a });
  const train = Array.from(
    { length: 20 },
    (_, i) =>
      line(
        `Ann has ${i} apples and gets 2 more. How many?`,
        `She has ${i}+2=<<${i}+2=${i + 2}>>${i + 2}.\n#### ${i + 2}`,
      ),
  );
  await Deno.writeTextFile(`${data}/train.jsonl`, train.join("\n") + "\n");
  await Deno.writeTextFile(`${data}/test.jsonl`, train.slice(0, 4).join("\n") + "\n");
  const dir = await Deno.makeTempDir();
  const r = await runExample("gsm8k.ts", [
    ...TINY,
    "--losses",
    "ce,lovasz",
    "--data",
    data,
    "--out",
    dir,
  ]);
  assertEquals(r.code, 0, r.err);
  await assertOutputs(dir, 2);
});

Deno.test("gsm8k example: bad input is one line and exit code 2, nothing written", async () => {
  const data = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${data}/train.jsonl`,
    '{"question": "q", "answer": "#### 1"}\nnot json\n',
  );
  await Deno.writeTextFile(`${data}/test.jsonl`, '{"question": "q", "answer": "#### 1"}\n');
  const model = await Deno.makeTempDir();
  const cases: [string[], string][] = [
    [["--data", "/nonexistent/gsm8k"], "train.jsonl not found"],
    [["--data", data], "train.jsonl:2"],
    [["--losses", "ce,nope"], "valid: ce, focal"],
    [["--model", model], "no config.json"],
    [["--steps", "many"], "--steps: expected an integer"],
    [["--arch", "rnn"], "--arch: expected llama or gpt"],
    [["--max-number", "5000"], "--max-number: must be <= 1000"],
    [["--resume", "/nonexistent/run"], "no readable run.json"],
    [["--bogus"], "bogus"],
    [["--lora-targets", "attention"], "--lora-targets: applies to --model runs only"],
  ];
  await assertBadInput("gsm8k.ts", cases);
});

Deno.test("gsm8k example: --help documents every flag", async () => {
  const r = await runExample("gsm8k.ts", ["--help"]);
  assertEquals(r.code, 0);
  for (
    const flag of [
      "--data",
      "--download",
      "--model",
      "--losses",
      "--weights",
      "--steps",
      "--batch",
      "--lr",
      "--backend",
      "--seed",
      "--config",
      "--resume",
      "--limit",
      "--skip-bad",
      "--out",
      "--lora-targets",
    ]
  ) {
    assert(r.out.includes(flag), `help mentions ${flag}`);
  }
});

const tinyLlama = decodeURIComponent(
  new URL("../../../shared/models/tiny-llama-hf", import.meta.url).pathname,
);
const haveTinyLlama = await Deno.stat(`${tinyLlama}/config.json`).then(() => true, () => false);

Deno.test({
  name: "gsm8k example: --model takes the paper's LoRA targets unless --lora-targets says",
  ignore: !haveTinyLlama && !Deno.env.get("CI"),
  async fn() {
    const dir = `${await Deno.makeTempDir()}/out`;
    const run = ["--model", tinyLlama, "--losses", "ce", "--steps", "1", "--batch", "2"];
    const r = await runExample("gsm8k.ts", [
      ...run,
      "--limit",
      "1",
      "--backend",
      "cpu",
      "--lora-targets",
      "attention",
      "--out",
      dir,
    ]);
    assertEquals(r.code, 0, r.err);
    assert(r.out.includes("on 8 projections (q_proj, k_proj, v_proj, o_proj)"), r.out);
    await assertOutputs(dir, 1);
    const bad = [[...run, "--lora-targets", "dense_h_to_4h"], "match no projection"] as [
      string[],
      string,
    ];
    await assertBadInput("gsm8k.ts", [bad]);
  },
});

Deno.test("gsm8k example: --seeds trains each loss per seed and compares them", async () => {
  const dir = await Deno.makeTempDir();
  const args = [...TINY, "--losses", "ce,focal", "--seeds", "1,2", "--out", dir];
  const r = await runExample("gsm8k.ts", args);
  assertEquals(r.code, 0, r.err);
  assert(r.out.includes("## Comparison: exactMatch, 95% intervals"), r.out);
  const results = JSON.parse(await Deno.readTextFile(`${dir}/results.json`));
  assertEquals(results.seeds, [1, 2]);
  assertEquals(results.rows.map((x: { label: string }) => x.label), [
    "ce seed=1",
    "ce seed=2",
    "0.6 ce + 0.4 focal seed=1",
    "0.6 ce + 0.4 focal seed=2",
  ]);
  // The same held-out problems under every seed: the ids pair.
  const ids = results.rows.map((x: { problems: { ids: string[] } }) => x.problems.ids.join());
  assertEquals(new Set(ids).size, 1);
  const [ce, focal] = results.comparison.groups;
  // Seeds that agree on every problem (a model this small often gets none right) give the
  // problems' Wilson interval; otherwise the bootstrap resamples seeds and problems.
  const ceRows = results.rows.slice(0, 2) as { problems: { correct: boolean[] } }[];
  const answers = ceRows.flatMap((r) => r.problems.correct);
  const method = answers.every((x) => x === answers[0]) ? "wilson" : "bootstrap";
  assertEquals([ce.label, ce.seeds, ce.interval.method], ["ce", ["1", "2"], method]);
  assertEquals(focal.versus.tests.map((t: { seed: string }) => t.seed), ["1", "2"]);
  for (const f of ["intervals.svg", "seeds.svg", "ce-seed2/result.json"]) {
    assert(await Deno.stat(`${dir}/${f}`).then((s) => s.isFile), f);
  }
  // --resume takes the seeds back from run.json and keeps every finished variant.
  const again = await runExample("gsm8k.ts", ["--resume", dir]);
  assertEquals(again.code, 0, again.err);
  assert(again.out.includes("4 finished earlier, kept"), again.out);
  await assertBadInput("gsm8k.ts", [
    [["--seeds", "1,1"], "--seeds: seed 1 is given twice"],
    [["--seeds", "1,x"], "--seeds: expected an integer"],
  ]);
});

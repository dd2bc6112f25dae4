import { gsm8k, gsm8kTask } from "../../src/data/gsm8k.ts";
import { loadTask, TASK_NAMES, taskByName, taskMetrics, TASKS } from "../../src/data/tasks.ts";
import { tokenizeTaskExample } from "../../src/data/task.ts";
import { makeBatch } from "../../src/data/batch.ts";
import { DataError } from "../../src/data/errors.ts";
import { byteTokenizer } from "../../src/tokenizers/mod.ts";
import { assert, assertEquals, assertRejects, assertThrows, realGsm8kDir } from "./_assert.ts";
import { jsonl, parquet, tempDir, writeAt } from "./_files.ts";

const JANET = {
  question: "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and " +
    "bakes muffins for her friends every day with four. She sells the remainder at the farmers' " +
    "market daily for $2 per fresh duck egg. How much in dollars does she make every day?",
  answer: "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n" +
    "She makes 9 * 2 = $<<9*2=18>>18 every day at the farmer's market.\n#### 18",
};

function gsmRecords(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    question: `What is ${i} + 1?`,
    answer: `${i} + 1 = <<${i}+1=${i + 1}>>${i + 1}\n#### ${i + 1}`,
  }));
}

Deno.test("tasks: the registry and the paper's lengths", () => {
  assertEquals(TASK_NAMES, ["gsm8k", "mathqa", "openbookqa", "hellaswag"]);
  assertEquals(
    TASK_NAMES.map((n) => [TASKS[n].name, TASKS[n].maxLength, TASKS[n].answerKind]),
    [
      ["gsm8k", 128, "number"],
      ["mathqa", 1024, "number"],
      ["openbookqa", 128, "letter"],
      ["hellaswag", 256, "letter"],
    ],
  );
  assertEquals(taskByName("hellaswag"), TASKS.hellaswag);
  assertThrows(() => taskByName("squad"), RangeError, "known: gsm8k, mathqa");
  assertThrows(() => taskByName("toString"), RangeError, "unknown task");
  for (const t of Object.values(TASKS)) {
    assert(t.files.length > 0 && t.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256)), t.name);
    assert(t.files.every((f) => f.url.startsWith("https://")), t.name);
  }
});

Deno.test("gsm8kTask: same examples as gsm8k(), from jsonl and from parquet", async () => {
  const dir = await tempDir();
  const train = [JANET, ...gsmRecords(19)];
  const test = gsmRecords(3);
  await writeAt(dir, "orig/train.jsonl", jsonl(train));
  await writeAt(dir, "orig/test.jsonl", jsonl(test));
  await writeAt(dir, "hub/main/train-00000-of-00001.parquet", parquet(train));
  await writeAt(dir, "hub/main/test-00000-of-00001.parquet", parquet(test));
  // The socratic configuration has other answers; "main" is preferred.
  const socratic = train.map((r) => ({ ...r, answer: `How? ${r.answer}` }));
  await writeAt(dir, "hub/socratic/train-00000-of-00001.parquet", parquet(socratic));
  for (const split of ["train", "validation", "test"] as const) {
    const old = await gsm8k({ path: `${dir}/orig`, split });
    for (const path of [`${dir}/orig`, `${dir}/hub`]) {
      const data = await gsm8kTask.load({ path, split });
      assertEquals(
        data.examples.map((e) => [e.prompt, e.target, e.reference]),
        old.map((e) => [e.prompt, e.target, e.final]),
        `${split} from ${path}`,
      );
      assertEquals(data.examples.map((e) => e.record.question), old.map((e) => e.question));
    }
  }
  const both = [
    ...(await gsm8kTask.load({ path: `${dir}/orig`, split: "train" })).examples,
    ...(await gsm8kTask.load({ path: `${dir}/orig`, split: "validation" })).examples,
  ];
  const janet = both.find((e) => e.record.question === JANET.question);
  assertEquals(janet?.target, "<<16-3-4=9>> <<9*2=18>> #### 18");
  assertEquals(janet?.source, `${dir}/orig/train.jsonl:1`);
  assertEquals(both.length, 20);
  const hub = await gsm8kTask.load({ path: `${dir}/hub`, split: "validation" });
  assertEquals(hub.files, [`${dir}/hub/main/train-00000-of-00001.parquet`]);
  assert(hub.examples.every((e) => e.source.includes("main/train-00000-of-00001.parquet row ")));
  // format forces one kind of file.
  await assertRejects(
    () => gsm8kTask.load({ path: `${dir}/hub`, split: "test", format: "original" }),
    DataError,
    "looked for test.jsonl)",
  );
  const forced = await gsm8kTask.load({ path: `${dir}/orig`, split: "test", format: "auto" });
  assertEquals(forced.format, "original");
  // Malformed parquet rows name file and row.
  await writeAt(dir, "bad/test.parquet", parquet([test[0], { question: "q", answer: "none" }]));
  await assertRejects(
    () => gsm8kTask.load({ path: `${dir}/bad`, split: "test" }),
    DataError,
    `${dir}/bad/test.parquet row 1: field "answer" has no "#### N" final line`,
  );
});

Deno.test("gsm8kTask: the real GSM8K files", async () => {
  const real = await realGsm8kDir();
  if (real === null) return;
  const test = await loadTask("gsm8k", { path: real, split: "test" });
  assertEquals(test.examples.length, 1319);
  assertEquals(test.examples[0].target, "<<16-3-4=9>> <<9*2=18>> #### 18");
  const val = await loadTask(gsm8kTask, { path: real, split: "validation" });
  const old = await gsm8k({ path: real, split: "validation" });
  assertEquals(val.examples.map((e) => e.target), old.map((e) => e.target));
  assertEquals(val.examples.length, 747);
});

Deno.test("tasks: missing data, empty folders, bad options", async () => {
  const dir = await tempDir();
  for (const name of TASK_NAMES) {
    const err = await assertRejects(
      () => loadTask(name, { path: `${dir}/none`, split: "train" }),
      DataError,
      "data not found",
    );
    assert(err.message.includes(`downloadTask("${name}", DIR) (--download)`), err.message);
    assert(err.message.includes("--data DIR"), err.message);
    assert(err.message.includes(TASKS[name].homepage), err.message);
    assert(!err.message.includes("\n"), "one line");
  }
  await Deno.mkdir(`${dir}/empty`);
  await assertRejects(
    () => loadTask("mathqa", { path: `${dir}/empty`, split: "train" }),
    DataError,
    "no MathQA file for this split (looked for train.json, MathQA.zip, *train*.parquet)",
  );
  await assertRejects(
    () => loadTask("hellaswag", { path: `${dir}/empty`, split: "test", format: "parquet" }),
    DataError,
    "(looked for *validation*.parquet)",
  );
  const file = await writeAt(dir, "file.txt", "x");
  await assertRejects(
    () => loadTask("openbookqa", { path: file, split: "test" }),
    DataError,
    "expected a folder holding the OpenBookQA files or OpenBookQA-V1-Sep2018.zip",
  );
  await assertRejects(
    // @ts-expect-error: a split that does not exist
    () => loadTask("gsm8k", { path: dir, split: "dev" }),
    RangeError,
    'got "dev"',
  );
  await assertRejects(
    // @ts-expect-error: a format that does not exist
    () => loadTask("gsm8k", { path: dir, split: "test", format: "csv" }),
    RangeError,
    'got "csv"',
  );
  await writeAt(dir, "g/train.jsonl", jsonl(gsmRecords(5)));
  await assertRejects(
    () => loadTask("gsm8k", { path: `${dir}/g`, split: "train", validationFraction: 1 }),
    RangeError,
    "validationFraction must be in [0, 1)",
  );
});

Deno.test("tokenizeTaskExample: left truncation to the task's length", () => {
  const tok = byteTokenizer();
  const bos = tok.bos as number;
  const short = tokenizeTaskExample(tok, { prompt: "Q: ", target: "A" }, 16);
  assertEquals(short.ids, [bos, ...tok.encode("Q: A"), tok.eos]);
  assertEquals([short.answerStart, short.truncated], [4, 0]);
  // A long MathQA problem: the prompt loses its start, the answer and eos stay.
  const target = "<<divide(n0,n1)>> #### 30.0";
  const long = { prompt: `Question: ${"a train goes far . ".repeat(100)}?\nAnswer: `, target };
  const n = tokenizeTaskExample(tok, long, TASKS.mathqa.maxLength);
  assertEquals(n.ids.length, 1024);
  assertEquals(n.ids[0], bos);
  assertEquals(n.ids.slice(-target.length - 1), [...tok.encode(target), tok.eos]);
  assertEquals(tok.decode(n.ids.slice(n.answerStart)), target);
  assertEquals(n.truncated, 1 + tok.encode(long.prompt).length + target.length + 1 - 1024);
  for (const name of TASK_NAMES) {
    const t = tokenizeTaskExample(tok, long, TASKS[name].maxLength);
    assert(t.ids.length <= TASKS[name].maxLength, name);
    assertEquals(tok.decode(t.ids.slice(t.answerStart)), target, name);
  }
  // A target longer than the limit: only its end is left, the answer starts right after bos.
  const cut = tokenizeTaskExample(tok, { prompt: "Q", target: "0123456789" }, 5);
  assertEquals(tok.decode(cut.ids), "789");
  assertEquals(cut.answerStart, 1);
  const noBos = tokenizeTaskExample(tok, { prompt: "Q", target: "A" }, 8, { addBos: false });
  assertEquals(noBos.ids, [...tok.encode("QA"), tok.eos]);
  assertThrows(() => tokenizeTaskExample(tok, long, 0), RangeError, "maxLength");
  // Examples go straight into makeBatch, which also truncates prompts on the left.
  const batch = makeBatch(tok, [long], { maxLength: TASKS.gsm8k.maxLength });
  assertEquals(batch.length, 128);
});

Deno.test("taskMetrics: math tasks get exact match and step metrics, choice tasks accuracy", () => {
  const math = taskMetrics("mathqa", [
    { prediction: "<<add(n1,n0)>> #### 5.0", reference: "<<add(n0,n1)>> #### 5.0" },
  ]);
  assertEquals([math.count, math.exactMatch, math.iou, math.commutativeIou], [1, 1, 0, 1]);
  const choice = taskMetrics(TASKS.openbookqa, [
    { prediction: "D", reference: "D" },
    { prediction: "A. puppies", reference: "D" },
  ]);
  assertEquals(choice, { count: 2, accuracy: 0.5, rouge1: 0.5 });
});

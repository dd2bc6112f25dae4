import {
  checkOpenBookQaRecord,
  formatOpenBookQa,
  openBookQaTask,
} from "../../src/data/openbookqa.ts";
import { DataError } from "../../src/data/errors.ts";
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { jsonl, parquet, tempDir, writeAt, zip } from "./_files.ts";

// Hand-written records in the shape of Data/Additional/*_complete.jsonl.
const SUN = {
  id: "7-980",
  question: {
    stem: "The sun is responsible for",
    choices: [
      { text: "puppies learning new tricks", label: "A" },
      { text: "children growing up and getting old", label: "B" },
      { text: "flowers wilting in a vase", label: "C" },
      { text: "plants sprouting, blooming and wilting", label: "D" },
    ],
  },
  fact1: "the sun is the source of energy for physical cycles on Earth",
  humanScore: "1.00",
  clarity: "2.00",
  turkIdAnonymized: "b356d338b7",
  answerKey: "D",
};
const SHARKS = {
  id: "7-584",
  question: {
    stem: "Frilled sharks and angler fish live far beneath the surface of the ocean, which is " +
      "why they are known as",
    choices: [
      { text: "Deep sea animals", label: "A" },
      { text: "fish", label: "B" },
      { text: "Long Sea Fish", label: "C" },
      { text: "Far Sea Animals", label: "D" },
    ],
  },
  fact1: "deep sea animals live deep in the ocean",
  humanScore: "1.00",
  clarity: "1.00",
  turkIdAnonymized: "5de1e9b1b4",
  answerKey: "A",
};

const SUN_PROMPT = "Question: The sun is responsible for\n" +
  "A. puppies learning new tricks\n" +
  "B. children growing up and getting old\n" +
  "C. flowers wilting in a vase\n" +
  "D. plants sprouting, blooming and wilting\n" +
  "Context: the sun is the source of energy for physical cycles on Earth\n" +
  "Answer: ";

/** The same record as the Hub's parquet export holds it. */
function hubRow(r: typeof SUN) {
  return {
    id: r.id,
    question_stem: r.question.stem,
    choices: {
      text: r.question.choices.map((c) => c.text),
      label: r.question.choices.map((c) => c.label),
    },
    answerKey: r.answerKey,
    fact1: r.fact1,
    humanScore: Number(r.humanScore),
    clarity: Number(r.clarity),
    turkIdAnonymized: r.turkIdAnonymized,
  };
}

Deno.test("OpenBookQA: formatting as the paper does, both shapes", () => {
  const original = checkOpenBookQaRecord(SUN);
  const hub = checkOpenBookQaRecord(hubRow(SUN));
  assert(typeof original !== "string" && typeof hub !== "string");
  assertEquals(hub, original);
  const f = formatOpenBookQa(original);
  assertEquals(f.prompt, SUN_PROMPT);
  assertEquals([f.target, f.reference], ["D", "D"]);
});

Deno.test("OpenBookQA: record checks", () => {
  const cases: [unknown, RegExp][] = [
    ["x", /expected an object/],
    [{ ...SUN, question: "q" }, /field "question" must be an object/],
    [{ ...SUN, question: { stem: "s", choices: {} } }, /"question.choices" must be a list/],
    [{ ...SUN, question: { stem: 3, choices: [] } }, /"question.stem" must be a string/],
    [{ ...SUN, question: { stem: "s", choices: [] } }, /no choices/],
    [{ ...SUN, answerKey: "E" }, /answerKey "E" is not one of the labels \["A","B","C","D"\]/],
    [{ ...SUN, fact1: undefined }, /field "fact1" is missing \(use the "additional"/],
    [{ id: "1", answerKey: "A" }, /expected "question" \(original\) or "question_stem"/],
    [{ ...hubRow(SUN), choices: { text: ["a"], label: ["A", "B"] } }, /1 texts but 2 labels/],
  ];
  for (const [value, re] of cases) {
    const got = checkOpenBookQaRecord(value);
    assert(typeof got === "string" && re.test(got), `${JSON.stringify(got)} should match ${re}`);
  }
});

Deno.test("OpenBookQA: the zip, the unzipped folder and the parquet export agree", async () => {
  const dir = await tempDir();
  const root = "OpenBookQA-V1-Sep2018/Data";
  const files = {
    [`${root}/Additional/train_complete.jsonl`]: jsonl([SUN, SHARKS]),
    [`${root}/Additional/dev_complete.jsonl`]: jsonl([SHARKS]),
    [`${root}/Additional/test_complete.jsonl`]: jsonl([SUN]),
    // The "main" files have no fact1 and must not be picked.
    [`${root}/Main/train.jsonl`]: jsonl([{ ...SUN, fact1: undefined }]),
  };
  const zipPath = await writeAt(dir, "zip/OpenBookQA-V1-Sep2018.zip", zip(files));
  for (const [rel, text] of Object.entries(files)) await writeAt(dir, `plain/${rel}`, text);
  const hub = [["train", [SUN, SHARKS]], ["validation", [SHARKS]], ["test", [SUN]]] as const;
  for (const [split, records] of hub) {
    const rows = records.map(hubRow);
    await writeAt(dir, `hub/additional/${split}-00000-of-00001.parquet`, parquet(rows));
    // The "main" configuration sits beside it; "additional" is preferred.
    const main = rows.map((
      { fact1: _f, humanScore: _h, clarity: _c, turkIdAnonymized: _t, ...r },
    ) => r);
    await writeAt(dir, `hub/main/${split}-00000-of-00001.parquet`, parquet(main));
  }
  for (const split of ["train", "validation", "test"] as const) {
    const a = await openBookQaTask.load({ path: zipPath, split });
    const b = await openBookQaTask.load({ path: `${dir}/plain`, split });
    const c = await openBookQaTask.load({ path: `${dir}/hub`, split });
    const texts = (d: typeof a) => d.examples.map((e) => [e.prompt, e.target]);
    assertEquals(texts(b), texts(a));
    assertEquals(texts(c), texts(a));
    assertEquals([a.format, b.format, c.format], ["original", "original", "parquet"]);
    assert(c.files.every((f) => f.includes("/additional/")), c.files.join());
  }
  const train = await openBookQaTask.load({ path: zipPath, split: "train" });
  assertEquals(train.examples[0].prompt, SUN_PROMPT);
  assertEquals(train.examples.map((e) => e.target), ["D", "A"]);
  assertEquals(
    train.examples[1].source,
    `${zipPath}!${root}/Additional/train_complete.jsonl:2`,
  );
  const dev = await openBookQaTask.load({ path: `${dir}/plain`, split: "validation" });
  assertEquals(dev.files, [`${dir}/plain/${root}/Additional/dev_complete.jsonl`]);
});

Deno.test("OpenBookQA: malformed lines and the main configuration name file and line", async () => {
  const dir = await tempDir();
  const rel = "Data/Additional/train_complete.jsonl";
  await writeAt(
    dir,
    `a/${rel}`,
    jsonl([SUN]) + "\n" + JSON.stringify({ ...SHARKS, answerKey: "Z" }),
  );
  await assertRejects(
    () => openBookQaTask.load({ path: `${dir}/a`, split: "train" }),
    DataError,
    `${dir}/a/${rel}:3: answerKey "Z" is not one of the labels`,
  );
  await writeAt(dir, `b/${rel}`, "{oops\n" + jsonl([SUN]));
  const skipped = await openBookQaTask.load({ path: `${dir}/b`, split: "train", skipBad: true });
  assertEquals([skipped.examples.length, skipped.skipped], [1, 1]);
  assert(skipped.problems[0].startsWith(`${dir}/b/${rel}:1: invalid JSON`), skipped.problems[0]);
  const main = { ...hubRow(SUN) } as Record<string, unknown>;
  delete main.fact1;
  await writeAt(dir, "c/main/test-00000-of-00001.parquet", parquet([main]));
  await assertRejects(
    () => openBookQaTask.load({ path: `${dir}/c`, split: "test" }),
    DataError,
    `${dir}/c/main/test-00000-of-00001.parquet row 0: field "fact1" is missing`,
  );
});

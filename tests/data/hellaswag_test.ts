import { checkHellaSwagRecord, formatHellaSwag, hellaSwagTask } from "../../src/data/hellaswag.ts";
import { validationIndices } from "../../src/data/split.ts";
import { DataError } from "../../src/data/errors.ts";
import { assert, assertEquals, assertNotEquals, assertRejects } from "./_assert.ts";
import { jsonl, parquet, tempDir, writeAt } from "./_files.ts";

// A hand-written item in the shape of hellaswag_{train,val}.jsonl.
const ROOF = {
  ind: 24,
  activity_label: "Roof shingle removal",
  ctx_a: "A man is sitting on a roof.",
  ctx_b: "he",
  ctx: "A man is sitting on a roof. he",
  split: "val",
  split_type: "indomain",
  label: 3,
  endings: [
    "is using wrap to wrap a pair of skis.",
    "is ripping level tiles off.",
    "is holding a rubik's cube.",
    "starts pulling up roofing on a roof.",
  ],
  source_id: "activitynet~v_-JhWjGDPHMY",
};
const ROOF_PROMPT = "Question: A man is sitting on a roof. he\n" +
  "A. is using wrap to wrap a pair of skis.\n" +
  "B. is ripping level tiles off.\n" +
  "C. is holding a rubik's cube.\n" +
  "D. starts pulling up roofing on a roof.\n" +
  "Answer: ";

/** Distinct items i = 0..n-1 (label i % 4), in the original shape. */
function items(n: number, split = "train") {
  return Array.from({ length: n }, (_, i) => ({
    ...ROOF,
    ind: i,
    split,
    ctx: `Item ${i}: a person walks to the`,
    label: i % 4,
  }));
}

/** The Hub's export writes the label as a string. */
const hubRows = (records: typeof ROOF[]) => records.map((r) => ({ ...r, label: String(r.label) }));

Deno.test("HellaSwag: formatting as the paper does", () => {
  const r = checkHellaSwagRecord(ROOF);
  assert(typeof r !== "string");
  assertEquals(formatHellaSwag(r), { prompt: ROOF_PROMPT, target: "D", reference: "D" });
  const hub = checkHellaSwagRecord({ ...ROOF, label: "0" });
  assert(typeof hub !== "string");
  assertEquals(formatHellaSwag(hub).target, "A");
  assertEquals(hub.ind, 24);
  assertEquals(hub.activity_label, "Roof shingle removal");
});

Deno.test("HellaSwag: record checks", () => {
  const cases: [unknown, RegExp][] = [
    [null, /expected an object/],
    [{ ...ROOF, ctx: undefined }, /field "ctx" is missing/],
    [{ ...ROOF, endings: "abc" }, /"endings" must be a list of strings/],
    [{ ...ROOF, endings: ["one"] }, /must hold 2 to 10 endings, got 1/],
    [{ ...ROOF, label: "" }, /"label" is empty \(the official test split has no labels/],
    [{ ...ROOF, label: 4 }, /index into the 4 endings, got 4/],
    [{ ...ROOF, label: "x" }, /must be an ending index, got "x"/],
    [{ ...ROOF, label: -1 }, /index into the 4 endings/],
  ];
  for (const [value, re] of cases) {
    const got = checkHellaSwagRecord(value);
    assert(typeof got === "string" && re.test(got), `${JSON.stringify(got)} should match ${re}`);
  }
});

Deno.test("HellaSwag: splits (10% of train, seed 42; val is test), both shapes", async () => {
  const dir = await tempDir();
  const train = items(30);
  const val = items(5, "val");
  await writeAt(dir, "orig/hellaswag_train.jsonl", jsonl(train));
  await writeAt(dir, "orig/hellaswag_val.jsonl", jsonl(val));
  await writeAt(dir, "hub/data/train-00000-of-00001.parquet", parquet(hubRows(train)));
  await writeAt(dir, "hub/data/validation-00000-of-00001.parquet", parquet(hubRows(val)));
  // The Hub's unlabelled test split sits beside them and is never read.
  await writeAt(
    dir,
    "hub/data/test-00000-of-00001.parquet",
    parquet(hubRows(val).map((r) => ({ ...r, label: "" }))),
  );
  const ctxOf = (d: { examples: { record: { ctx: string } }[] }) =>
    d.examples.map((e) => e.record.ctx);
  for (const path of [`${dir}/orig`, `${dir}/hub`]) {
    const t = await hellaSwagTask.load({ path, split: "train" });
    const v = await hellaSwagTask.load({ path, split: "validation" });
    const test = await hellaSwagTask.load({ path, split: "test" });
    assertEquals([t.examples.length, v.examples.length, test.examples.length], [27, 3, 5]);
    const held = validationIndices(30, 0.1, 42);
    assertEquals(ctxOf(v), held.map((i) => train[i].ctx));
    const all = new Set([...ctxOf(t), ...ctxOf(v)]);
    assertEquals(all.size, 30, "train and validation are disjoint and cover train");
    assertEquals(ctxOf(test), val.map((r) => r.ctx));
    assertEquals(test.examples.map((e) => e.target), ["A", "B", "C", "D", "A"]);
    // Deterministic, and another seed picks another part.
    assertEquals(ctxOf(await hellaSwagTask.load({ path, split: "validation" })), ctxOf(v));
    const other = await hellaSwagTask.load({ path, split: "validation", seed: 7 });
    assertNotEquals(ctxOf(other), ctxOf(v));
    const fifth = await hellaSwagTask.load({ path, split: "validation", validationFraction: 0.2 });
    assertEquals(fifth.examples.length, 6);
  }
  const orig = await hellaSwagTask.load({ path: `${dir}/orig`, split: "train" });
  const hub = await hellaSwagTask.load({ path: `${dir}/hub`, split: "train" });
  assertEquals(
    hub.examples.map((e) => [e.prompt, e.target]),
    orig.examples.map((e) => [e.prompt, e.target]),
  );
  assertEquals(hub.format, "parquet");
});

Deno.test("HellaSwag: malformed lines name file and line", async () => {
  const dir = await tempDir();
  const lines = jsonl(items(3)).split("\n");
  lines[1] = JSON.stringify({ ...ROOF, label: 9 });
  await writeAt(dir, "hellaswag_train.jsonl", lines.join("\n"));
  await assertRejects(
    () => hellaSwagTask.load({ path: dir, split: "train" }),
    DataError,
    `${dir}/hellaswag_train.jsonl:2: field "label" must be an index into the 4 endings, got 9`,
  );
  const skipped = await hellaSwagTask.load({ path: dir, split: "train", skipBad: true });
  assertEquals(skipped.skipped, 1);
  assertEquals(
    skipped.examples.length + (await hellaSwagTask.load({
      path: dir,
      split: "validation",
      skipBad: true,
    })).examples.length,
    2,
  );
});

import {
  checkMathQaRecord,
  formatMathQa,
  mathQaAnswer,
  mathQaNumber,
  mathQaOptions,
  mathQaSteps,
  mathQaTask,
  pythonFloat,
} from "../../src/data/mathqa.ts";
import { DataError } from "../../src/data/errors.ts";
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { parquet, tempDir, writeAt, zip } from "./_files.ts";

// Hand-written records in MathQA's own shape (train/dev/test.json hold arrays of these).
const GAIN = {
  Problem: "the banker ' s gain of a certain sum due 3 years hence at 10 % per annum is rs . 36 " +
    ". what is the present worth ?",
  Rationale: '"explanation : t = 3 years r = 10 % td = ( bg × 100 ) / tr = ( 36 × 100 ) / ( 3 × ' +
    "10 ) = 12 × 10 = rs . 120 pw = ( 100 × td ) / tr = ( 100 × 120 ) / ( 3 × 10 ) = 10 × 40 = " +
    'rs . 400 answer : option a"',
  options: "a ) rs . 400 , b ) rs . 300 , c ) rs . 500 , d ) rs . 350 , e ) none of these",
  correct: "a",
  annotated_formula:
    "divide(multiply(const_100, divide(multiply(36, const_100), multiply(3, 10))), " +
    "multiply(3, 10))",
  linear_formula:
    "multiply(n2,const_100)|multiply(n0,n1)|divide(#0,#1)|multiply(#2,const_100)|divide(#3,#1)|",
  category: "gain",
};
const AVERAGE = {
  Problem: "average age of students of an adult school is 40 years . 120 new students whose " +
    "average age is 32 years joined the school . as a result the average age is decreased by " +
    "4 years . find the number of students of the school after joining of the new students .",
  Rationale: '"let the original no . of students be x . ... answer : d"',
  options: "a ) 1200 , b ) 120 , c ) 360 , d ) 240 , e ) none of these",
  correct: "d",
  annotated_formula: "add(divide(subtract(multiply(120, 32), multiply(120, subtract(40, 4))), " +
    "subtract(subtract(40, 4), 40)), 120)",
  linear_formula: "subtract(n0,n3)|multiply(n1,n2)|multiply(n1,#0)|subtract(#0,n0)|" +
    "subtract(#1,#2)|divide(#4,#3)|add(n1,#5)|",
  category: "general",
};
const DECIMAL = {
  Problem: "a number when divided by 4 gives 6.91875 . the number is ?",
  Rationale: '"4 * 6.91875 = 27.675"',
  options: "a ) 38 , b ) 27.675 , c ) 30 , d ) data inadequate , e ) none of these",
  correct: "b",
  annotated_formula: "multiply(4, 6.91875)",
  linear_formula: "multiply(n0,n1)",
  category: "general",
};
const NOT_A_NUMBER = { ...DECIMAL, correct: "d" }; // "data inadequate"
const FRACTION = {
  Problem: "what fraction of 14 is 10 ?",
  Rationale: '"10 / 14 = 5 / 7"',
  options: "a ) 5 / 7 , b ) 2 / 3 , c ) 1 / 2 , d ) 3 / 4 , e ) 4 / 5",
  correct: "a",
  annotated_formula: "divide(10, 14)",
  linear_formula: "divide(n1,n0)|",
  category: "general",
};

const GAIN_TARGET = "<<multiply(n2,const_100)>> <<multiply(n0,n1)>> <<divide(#0,#1)>> " +
  "<<multiply(#2,const_100)>> <<divide(#3,#1)>> #### 400.0";

Deno.test("MathQA: formatting as the paper does", () => {
  const g = formatMathQa(GAIN);
  assertEquals(g.prompt, `Question: ${GAIN.Problem}\nAnswer: `);
  assertEquals(g.target, GAIN_TARGET);
  assertEquals(g.reference, "400.0");
  const a = formatMathQa(AVERAGE);
  assertEquals(
    a.target,
    "<<subtract(n0,n3)>> <<multiply(n1,n2)>> <<multiply(n1,#0)>> <<subtract(#0,n0)>> " +
      "<<subtract(#1,#2)>> <<divide(#4,#3)>> <<add(n1,#5)>> #### 240.0",
  );
  // No trailing "|": the one step is kept whole.
  assertEquals(formatMathQa(DECIMAL).target, "<<multiply(n0,n1)>> #### 27.675");
  assertEquals(formatMathQa({ ...DECIMAL, linear_formula: "" }).target, "#### 27.675");
  let err: unknown;
  try {
    formatMathQa(NOT_A_NUMBER);
  } catch (e) {
    err = e;
  }
  assert(
    err instanceof DataError && /not a number: option d is "data inadequate"/.test(err.message),
  );
});

Deno.test("MathQA: options, numbers, steps, Python floats", () => {
  assertEquals(mathQaOptions(GAIN.options), {
    a: "rs . 400",
    b: "rs . 300",
    c: "rs . 500",
    d: "rs . 350",
    e: "none of these",
  });
  assertEquals(mathQaOptions("a ) 1,200 , b ) 1,500"), { a: "1,200", b: "1,500" });
  assertEquals(mathQaOptions("['a ) 12 %', 'b ) 15 %']"), { a: "12 %", b: "15 %" });
  const numbers: [string, number | null][] = [
    ["rs . 400", 400],
    ["27.675", 27.675],
    ["12.5 %", 12.5],
    ["-3", -3],
    ["$ .5", 0.5],
    ["1,200", null],
    ["5 / 7", null],
    ["none of these", null],
    ["1 : 2", null],
    ["", null],
  ];
  for (const [text, want] of numbers) assertEquals(mathQaNumber(text), want, text);
  assertEquals(mathQaAnswer(GAIN), 400);
  assertEquals(mathQaAnswer(FRACTION), null);
  assertEquals(mathQaAnswer({ ...GAIN, correct: "e" }), null);
  assertEquals(mathQaSteps("a|b|"), ["a", "b"]);
  assertEquals(mathQaSteps("a|b"), ["a", "b"]);
  assertEquals(mathQaSteps(""), []);
  // Python: repr(float(x))
  const floats: [number, string][] = [
    [6, "6.0"],
    [27.675, "27.675"],
    [1200, "1200.0"],
    [0.5, "0.5"],
    [-0.25, "-0.25"],
    [0.0001, "0.0001"],
    [0.00001, "1e-05"],
    [1.5e-7, "1.5e-07"],
    [1e16, "1e+16"],
    [1234567890123456.7, "1234567890123456.8"],
    [0.1 + 0.2, "0.30000000000000004"],
    [0, "0.0"],
  ];
  for (const [x, want] of floats) assertEquals(pythonFloat(x), want, String(x));
});

Deno.test("MathQA: record checks name the field and value", () => {
  assertEquals(checkMathQaRecord(GAIN), GAIN);
  const cases: [unknown, RegExp][] = [
    [[1], /expected an object/],
    [{ ...GAIN, Problem: undefined }, /field "Problem" is missing/],
    [{ ...GAIN, options: 5 }, /field "options" must be a string, got 5/],
    [{ ...GAIN, correct: "f" }, /field "correct" must be a letter a-e, got "f"/],
    [{ ...GAIN, Problem: " " }, /field "Problem" is empty/],
    [{ ...GAIN, category: 3 }, /field "category" must be a string/],
  ];
  for (const [value, re] of cases) {
    const got = checkMathQaRecord(value);
    assert(typeof got === "string" && re.test(got), `${JSON.stringify(got)} should match ${re}`);
  }
});

/** The three splits in MathQA.zip's shape (pretty-printed JSON arrays at the archive root). */
function mathQaFiles() {
  return {
    "train.json": JSON.stringify([GAIN, NOT_A_NUMBER, AVERAGE, FRACTION, DECIMAL], null, 1),
    "dev.json": JSON.stringify([DECIMAL], null, 1),
    "test.json": JSON.stringify([AVERAGE, GAIN], null, 1),
  };
}

Deno.test("MathQA: MathQA.zip, its unzipped files and the parquet export agree", async () => {
  const dir = await tempDir();
  const files = mathQaFiles();
  const zipPath = await writeAt(dir, "zip/MathQA.zip", zip(files));
  for (const [name, text] of Object.entries(files)) await writeAt(dir, `plain/${name}`, text);
  for (const [split, name] of [["train", "train"], ["validation", "dev"], ["test", "test"]]) {
    const rows = JSON.parse(files[`${name}.json` as keyof typeof files]);
    await writeAt(dir, `hub/default/${split}/0000.parquet`, parquet(rows));
  }
  const load = (path: string, split: "train" | "validation" | "test") =>
    mathQaTask.load({ path, split });
  for (const split of ["train", "validation", "test"] as const) {
    const fromZip = await load(zipPath, split);
    const fromZipDir = await load(`${dir}/zip`, split);
    const fromPlain = await load(`${dir}/plain`, split);
    const fromHub = await load(`${dir}/hub`, split);
    assertEquals(fromZip.format, "original");
    assertEquals(fromHub.format, "parquet");
    const texts = (d: typeof fromZip) => d.examples.map((e) => [e.prompt, e.target, e.reference]);
    assertEquals(texts(fromZipDir), texts(fromZip));
    assertEquals(texts(fromPlain), texts(fromZip));
    assertEquals(texts(fromHub), texts(fromZip));
    assertEquals(fromHub.dropped, fromZip.dropped);
  }
  const train = await load(zipPath, "train");
  assertEquals(train.examples.map((e) => e.reference), ["400.0", "240.0", "27.675"]);
  assertEquals(train.examples[0].target, GAIN_TARGET);
  assertEquals(train.examples[0].record.category, "gain");
  assertEquals(train.examples[0].source, `${zipPath}!train.json row 0`);
  assertEquals(train.files, [`${zipPath}!train.json`]);
  // Non-numeric answers are dropped, counted and reported with file and row.
  assertEquals(train.dropped, 2);
  assertEquals(train.drops.length, 2);
  assert(train.drops[0].startsWith(`${zipPath}!train.json row 1: answer is not a number`));
  assert(train.drops[1].startsWith(`${zipPath}!train.json row 3: answer is not a number`));
  assert(train.drops[1].includes('"5 / 7"'), train.drops[1]);
  // MathQA has a dev set: validation is dev.json, not a part of train.
  const validation = await load(zipPath, "validation");
  assertEquals(validation.examples.map((e) => e.source), [`${zipPath}!dev.json row 0`]);
  const hubTest = await load(`${dir}/hub`, "test");
  assertEquals(hubTest.examples[1].source, `${dir}/hub/default/test/0000.parquet row 1`);
});

Deno.test("MathQA: malformed records and files name file and row", async () => {
  const dir = await tempDir();
  const bad = [GAIN, { ...AVERAGE, correct: "z" }, DECIMAL];
  await writeAt(dir, "a/train.json", JSON.stringify(bad));
  await assertRejects(
    () => mathQaTask.load({ path: `${dir}/a`, split: "train" }),
    DataError,
    `${dir}/a/train.json row 1: field "correct" must be a letter a-e, got "z"`,
  );
  const skipped = await mathQaTask.load({ path: `${dir}/a`, split: "train", skipBad: true });
  assertEquals(skipped.examples.length, 2);
  assertEquals(skipped.skipped, 1);
  assert(skipped.problems[0].startsWith(`${dir}/a/train.json row 1: `));
  await writeAt(dir, "b/train.json", '{"Problem": "not an array"}');
  await assertRejects(
    () => mathQaTask.load({ path: `${dir}/b`, split: "train" }),
    DataError,
    `${dir}/b/train.json: expected a JSON array`,
  );
  await writeAt(dir, "c/train.json", "[{]");
  await assertRejects(
    () => mathQaTask.load({ path: `${dir}/c`, split: "train" }),
    DataError,
    `${dir}/c/train.json: invalid JSON`,
  );
  await writeAt(dir, "d/MathQA.zip", zip({ "readme.txt": "no data" }));
  await assertRejects(
    () => mathQaTask.load({ path: `${dir}/d`, split: "test" }),
    DataError,
    `${dir}/d/MathQA.zip: the archive has no test.json`,
  );
  await writeAt(dir, "e/MathQA.zip", "not a zip");
  await assertRejects(
    () => mathQaTask.load({ path: `${dir}/e`, split: "test" }),
    DataError,
    `${dir}/e/MathQA.zip: cannot read zip archive`,
  );
  await writeAt(dir, "f/train/0000.parquet", parquet([{ Problem: "p", options: "a ) 1" }]));
  await assertRejects(
    () => mathQaTask.load({ path: `${dir}/f`, split: "train" }),
    DataError,
    `${dir}/f/train/0000.parquet row 0: field "correct" is missing`,
  );
});

import {
  downloadGsm8k,
  formatGsm8k,
  gsm8k,
  GSM8K_SHA256_PREFIXES,
  GSM8K_URLS,
  parseGsm8kAnswer,
  readGsm8kJsonl,
  sha256Hex,
  validationIndices,
  verifySha256Prefix,
} from "../../src/data/gsm8k.ts";
import { DataError } from "../../src/data/errors.ts";
import { assert, assertEquals, assertRejects, assertThrows, realGsm8kDir } from "./_assert.ts";

const NATALIA = {
  question: "Natalia sold clips to 48 of her friends in April, and then she sold half as many " +
    "clips in May. How many clips did Natalia sell altogether in April and May?",
  answer: "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n" +
    "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72",
};

const line = (q: string, a: string) => JSON.stringify({ question: q, answer: a });

async function tempFile(text: string, name = "data.jsonl"): Promise<string> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, text);
  return path;
}

Deno.test("parseGsm8kAnswer", () => {
  assertEquals(parseGsm8kAnswer(NATALIA.answer), {
    formulas: ["<<48/2=24>>", "<<48+24=72>>"],
    final: "72",
  });
  assertEquals(parseGsm8kAnswer("No steps.\n#### 5"), { formulas: [], final: "5" });
  assertEquals(parseGsm8kAnswer("x <<1,000*2=2000>> y\n#### 2,000 "), {
    formulas: ["<<1,000*2=2000>>"],
    final: "2,000",
  });
  assertEquals(parseGsm8kAnswer("<<-3+1=-2>>\n#### -2").final, "-2");
  assertThrows(() => parseGsm8kAnswer("no final line"), DataError, "####");
  assertThrows(() => parseGsm8kAnswer("<<1+1=2>>\n#### "), DataError, "nothing after");
});

Deno.test("formatGsm8k: paper format", () => {
  const f = formatGsm8k(NATALIA);
  assertEquals(f.prompt, `Question: ${NATALIA.question}\nAnswer: `);
  assertEquals(f.target, "<<48/2=24>> <<48+24=72>> #### 72");
  assertEquals(formatGsm8k(NATALIA, { target: "annotations" }), f);
  assertEquals(formatGsm8k(NATALIA, { target: "solution" }).target, NATALIA.answer);
  const janet = {
    question: "Janet's ducks lay 16 eggs per day...",
    answer: "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n" +
      "She makes 9 * 2 = $<<9*2=18>>18 every day at the farmer’s market.\n#### 18",
  };
  assertEquals(formatGsm8k(janet).target, "<<16-3-4=9>> <<9*2=18>> #### 18");
  assertEquals(formatGsm8k({ question: "q", answer: "It is 5.\n#### 5" }).target, "#### 5");
  assertThrows(
    // @ts-expect-error: invalid target kind on purpose
    () => formatGsm8k(NATALIA, { target: "steps" }),
    RangeError,
    '"steps"',
  );
});

Deno.test("readGsm8kJsonl: reads records, ignores blank lines and CRLF", async () => {
  const path = await tempFile(
    [line("q1", "a\n#### 1"), "", "   ", line("q2", "<<1+1=2>>\n#### 2") + "\r", ""].join("\n"),
  );
  const file = await readGsm8kJsonl(path);
  assertEquals(file.records, [{ question: "q1", answer: "a\n#### 1" }, {
    question: "q2",
    answer: "<<1+1=2>>\n#### 2",
  }]);
  assertEquals(file.skipped, 0);
  assertEquals(file.problems, []);
});

Deno.test("readGsm8kJsonl: malformed lines report path:line", async () => {
  const cases: [string, RegExp][] = [
    ["{not json", /invalid JSON/],
    ["[1, 2]", /expected a JSON object/],
    ['"text"', /expected a JSON object/],
    [JSON.stringify({ answer: "#### 1" }), /field "question" is missing/],
    [JSON.stringify({ question: "q" }), /field "answer" is missing/],
    [
      JSON.stringify({ question: 5, answer: "#### 1" }),
      /field "question" must be a string, got "5"/,
    ],
    [JSON.stringify({ question: "q", answer: null }), /field "answer" must be a string/],
    [line("q", "no final"), /field "answer" has no "#### N" final line: "no final"/],
    [line("q", "x ####  "), /nothing after "####"/],
    [line("  ", "#### 1"), /field "question" is empty/],
  ];
  for (const [bad, re] of cases) {
    const path = await tempFile([line("ok", "#### 1"), "", bad, line("ok2", "#### 2")].join("\n"));
    const err = await assertRejects(() => readGsm8kJsonl(path), DataError);
    assert(err.message.startsWith(`${path}:3: `), `message ${err.message} should start path:3:`);
    assert(re.test(err.message), `message ${err.message} should match ${re}`);
  }
});

Deno.test("readGsm8kJsonl: skipBad skips and counts", async () => {
  const path = await tempFile(
    [line("a", "#### 1"), "oops", line("b", "#### 2"), "{}", "", line("c", "#### 3")].join("\n"),
  );
  const file = await readGsm8kJsonl(path, { skipBad: true });
  assertEquals(file.records.map((r) => r.question), ["a", "b", "c"]);
  assertEquals(file.skipped, 2);
  assert(file.problems[0].startsWith(`${path}:2: invalid JSON`), file.problems[0]);
  assert(file.problems[1].startsWith(`${path}:4: field "question" is missing`), file.problems[1]);
  await assertRejects(() => readGsm8kJsonl(path), DataError, `${path}:2:`);
});

Deno.test("readGsm8kJsonl: missing file", async () => {
  const dir = await Deno.makeTempDir();
  const err = await assertRejects(() => readGsm8kJsonl(`${dir}/nope.jsonl`), DataError);
  assert(err.message.includes(`${dir}/nope.jsonl`));
  assert(err.message.includes("--download") && err.message.includes("--data DIR"));
});

async function syntheticDir(nTrain: number, nTest: number): Promise<string> {
  const dir = await Deno.makeTempDir();
  const mk = (prefix: string, n: number) =>
    Array.from(
      { length: n },
      (_, i) => line(`${prefix} ${i}?`, `<<${i}+1=${i + 1}>>\n#### ${i + 1}`),
    )
      .join("\n") + "\n";
  await Deno.writeTextFile(`${dir}/train.jsonl`, mk("train", nTrain));
  await Deno.writeTextFile(`${dir}/test.jsonl`, mk("test", nTest));
  return dir;
}

Deno.test("gsm8k: splits are 10%/90%, disjoint, deterministic, in file order", async () => {
  const dir = await syntheticDir(95, 7);
  const train = await gsm8k({ path: dir, split: "train" });
  const val = await gsm8k({ path: dir, split: "validation" });
  const test = await gsm8k({ path: dir, split: "test" });
  assertEquals(val.length, 10); // round(9.5)
  assertEquals(train.length, 85);
  assertEquals(test.length, 7);
  const tq = new Set(train.map((e) => e.question));
  assert(val.every((e) => !tq.has(e.question)));
  assertEquals(new Set([...tq, ...val.map((e) => e.question)]).size, 95);
  assertEquals(await gsm8k({ path: dir, split: "validation" }), val);
  const idx = (q: string) => Number(q.split(" ")[1].slice(0, -1));
  assertEquals(
    val.map((e) => idx(e.question)),
    [...val.map((e) => idx(e.question))].sort((a, b) => a - b),
  );
  const other = await gsm8k({ path: dir, split: "validation", seed: 7 });
  assert(JSON.stringify(other) !== JSON.stringify(val), "another seed gives another split");
  const v3 = await gsm8k({ path: dir, split: "validation", validationFraction: 0.3 });
  assertEquals(v3.length, 29);
  const e = test[3];
  assertEquals(e, {
    question: "test 3?",
    answer: "<<3+1=4>>\n#### 4",
    prompt: "Question: test 3?\nAnswer: ",
    target: "<<3+1=4>> #### 4",
    final: "4",
  });
  assertEquals((await gsm8k({ path: dir, split: "test", target: "solution" }))[3].target, e.answer);
});

Deno.test("validationIndices", () => {
  const v = validationIndices(7473, 0.1, 42);
  assertEquals(v.length, 747);
  assertEquals(new Set(v).size, 747);
  assert(v.every((i, k) => Number.isInteger(i) && i >= 0 && i < 7473 && (k === 0 || v[k - 1] < i)));
  assertEquals(validationIndices(7473, 0.1, 42), v);
  assertEquals(validationIndices(0, 0.1, 42), []);
  assertThrows(() => validationIndices(10, 1, 42), RangeError, "[0, 1)");
  assertThrows(() => validationIndices(10, -0.1, 42), RangeError);
});

Deno.test("gsm8k: missing folder or file, bad lines, bad options", async () => {
  const missing = `${await Deno.makeTempDir()}/absent`;
  const err = await assertRejects(() => gsm8k({ path: missing, split: "train" }), DataError);
  assert(err.message.includes(missing), err.message);
  assert(err.message.includes("--download") && err.message.includes("--data DIR"), err.message);

  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/train.jsonl`, line("q", "#### 1") + "\n");
  const e2 = await assertRejects(() => gsm8k({ path: dir, split: "test" }), DataError);
  assert(e2.message.includes(`${dir}/test.jsonl`) && e2.message.includes("--download"), e2.message);

  await Deno.writeTextFile(
    `${dir}/test.jsonl`,
    `${line("q", "#### 1")}\nbad\n${line("r", "#### 2")}\n`,
  );
  await assertRejects(() => gsm8k({ path: dir, split: "test" }), DataError, `${dir}/test.jsonl:2:`);
  const skipped: string[] = [];
  const ok = await gsm8k({
    path: dir,
    split: "test",
    skipBad: true,
    onSkip: (p) => skipped.push(p),
  });
  assertEquals(ok.map((e) => e.final), ["1", "2"]);
  assertEquals(skipped.length, 1);
  assert(skipped[0].startsWith(`${dir}/test.jsonl:2:`));

  const notDir = `${dir}/train.jsonl`;
  await assertRejects(() => gsm8k({ path: notDir, split: "train" }), DataError, "not a folder");
  await assertRejects(
    // @ts-expect-error: invalid split on purpose
    () => gsm8k({ path: dir, split: "dev" }),
    RangeError,
    '"dev"',
  );
  await assertRejects(
    () => gsm8k({ path: dir, split: "train", validationFraction: 1.5 }),
    RangeError,
    "1.5",
  );
});

Deno.test("real GSM8K: format, splits, checksums", async () => {
  const dir = await realGsm8kDir();
  if (dir === null) return;
  const first = (await readGsm8kJsonl(`${dir}/train.jsonl`)).records[0];
  assertEquals(first.question, NATALIA.question);
  assertEquals(formatGsm8k(first).target, "<<48/2=24>> <<48+24=72>> #### 72");

  const train = await gsm8k({ path: dir, split: "train" });
  const val = await gsm8k({ path: dir, split: "validation" });
  const test = await gsm8k({ path: dir, split: "test" });
  assertEquals(val.length, 747);
  assertEquals(train.length, 7473 - 747);
  assertEquals(test.length, 1319);
  const seen = new Set(train.map((e) => e.question + e.answer));
  assert(val.every((e) => !seen.has(e.question + e.answer)), "train and validation overlap");
  assertEquals(
    (await gsm8k({ path: dir, split: "validation" })).map((e) => e.question),
    val.map((e) => e.question),
  );
  for (const e of [...train, ...val, ...test]) {
    assert(e.prompt === `Question: ${e.question}\nAnswer: `);
    assert(e.target.endsWith(`#### ${e.final}`), e.target);
    assert(/^(<<[^]*?>> )*#### \S/.test(e.target), e.target);
    assert(/^-?[\d,]+(\.\d+)?$/.test(e.final), `final ${e.final}`);
  }

  for (const split of ["train", "test"] as const) {
    const bytes = await Deno.readFile(`${dir}/${split}.jsonl`);
    const hex = await verifySha256Prefix(bytes, GSM8K_SHA256_PREFIXES[split], split);
    assert(hex.startsWith(GSM8K_SHA256_PREFIXES[split]));
  }
});

Deno.test("sha256 helpers", async () => {
  const abc = new TextEncoder().encode("abc");
  assertEquals(
    await sha256Hex(abc),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assertEquals(
    await sha256Hex(new Uint8Array()),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  await verifySha256Prefix(abc, "BA7816BF", "abc");
  await assertRejects(
    () => verifySha256Prefix(abc, "17f347dc", "x.jsonl"),
    DataError,
    "x.jsonl: sha256 mismatch",
  );
  await assertRejects(() => verifySha256Prefix(abc, "zz", "x"), RangeError);
  assert(
    GSM8K_URLS.train.endsWith("openai/grade-school-math/master/grade_school_math/data/train.jsonl"),
  );
  assert(
    GSM8K_URLS.test.endsWith("openai/grade-school-math/master/grade_school_math/data/test.jsonl"),
  );
});

Deno.test("downloadGsm8k: checksum mismatch leaves nothing behind (fake fetch)", async () => {
  const dir = `${await Deno.makeTempDir()}/gsm8k`;
  const urls: string[] = [];
  const fakeFetch = (url: string) => {
    urls.push(url);
    return Promise.resolve(new Response("not gsm8k\n"));
  };
  await assertRejects(() => downloadGsm8k(dir, { fetch: fakeFetch }), DataError, "sha256 mismatch");
  assertEquals(urls, [GSM8K_URLS.train]);
  assertEquals([...Deno.readDirSync(dir)], []);
  const notFound = () => Promise.resolve(new Response("nope", { status: 404 }));
  await assertRejects(() => downloadGsm8k(dir, { fetch: notFound }), DataError, "HTTP 404");
  const offline = () => Promise.reject(new TypeError("network down"));
  await assertRejects(() => downloadGsm8k(dir, { fetch: offline }), DataError, "--data DIR");
});

Deno.test("downloadGsm8k: writes verified files (fake fetch serving the real files)", async () => {
  const real = await realGsm8kDir();
  if (real === null) return;
  const dir = `${await Deno.makeTempDir()}/nested/gsm8k`;
  const fakeFetch = async (url: string) => {
    const name = url.endsWith("train.jsonl") ? "train.jsonl" : "test.jsonl";
    const bytes = await Deno.readFile(`${real}/${name}`);
    return new Response(bytes, { headers: { "content-length": String(bytes.length) } });
  };
  const events: { file: string; done: boolean; bytes: number; total?: number }[] = [];
  const paths = await downloadGsm8k(dir, { fetch: fakeFetch, onProgress: (p) => events.push(p) });
  assertEquals(paths, { train: `${dir}/train.jsonl`, test: `${dir}/test.jsonl` });
  assertEquals(
    (await Deno.readFile(paths.test)).length,
    (await Deno.readFile(`${real}/test.jsonl`)).length,
  );
  assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["test.jsonl", "train.jsonl"]);
  const done = events.filter((e) => e.done);
  assertEquals(done.map((e) => e.file), ["train.jsonl", "test.jsonl"]);
  assert(done.every((e) => e.bytes === e.total));
  // Second call: files verified in place, no fetch.
  const noFetch = () => Promise.reject(new Error("must not fetch"));
  assertEquals(await downloadGsm8k(dir, { fetch: noFetch }), paths);
  assertEquals((await gsm8k({ path: dir, split: "test" })).length, 1319);
});

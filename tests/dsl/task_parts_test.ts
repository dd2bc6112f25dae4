// The DSL's task parts: the `task` data kind (any of the paper's tasks as a data source) and
// the `task` eval kind (greedy generation or the teacher-forced argmax, scored by taskMetrics).
import {
  byteTokenizer,
  embedding,
  evaluate,
  inlineData,
  type ModelLike,
  pipeline,
  PipelineError,
  pipelineFromJSON,
  rng,
  taskData,
  taskEval,
  type Tensor,
  tensor,
  toJSON,
} from "../../mod.ts";
import { teacherForcedAnswers } from "../../src/dsl/run/task_eval.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { jsonl, tempDir, writeAt, zip } from "../data/_files.ts";

const tok = byteTokenizer();
const code = (c: string) => tok.encode(c)[0];

/** A model whose next token after token `a` is `next[a]` (a lookup table of logits). */
function lookup(next: Record<number, number>): ModelLike<{ t: Tensor }> {
  const V = 259, table = new Float32Array(V * V);
  for (let a = 0; a < V; a++) table[a * V + (next[a] ?? a)] = 10;
  return {
    init: () => ({ t: tensor(table, { shape: [V, V] }) }),
    apply: (p, ids) => embedding(p.t, ids),
  };
}

function choiceRecord(i: number, answer: "A" | "B") {
  return {
    id: `r${i}`,
    question: {
      stem: `Question number ${i}?`,
      choices: [{ text: "yes", label: "A" }, { text: "no", label: "B" }],
    },
    fact1: `fact ${i}`,
    humanScore: "1.00",
    clarity: "2.00",
    turkIdAnonymized: "x",
    answerKey: answer,
  };
}

/** OpenBookQA in its release archive: 6 train, 2 dev, 3 test records. */
async function openBookQaDir(): Promise<string> {
  const dir = await tempDir();
  const file = (n: number, at: number) =>
    jsonl(Array.from({ length: n }, (_, i) => choiceRecord(at + i, i % 2 ? "B" : "A")));
  const root = "OpenBookQA-V1-Sep2018/Data/Additional";
  await writeAt(
    dir,
    "OpenBookQA-V1-Sep2018.zip",
    zip({
      [`${root}/train_complete.jsonl`]: file(6, 0),
      [`${root}/dev_complete.jsonl`]: file(2, 100),
      [`${root}/test_complete.jsonl`]: file(3, 200),
    }),
  );
  return dir;
}

Deno.test("taskData: a task's train split and its validation or test split, as the paper formats them", async () => {
  const dir = await openBookQaDir();
  const val = taskData({ task: "openbookqa", path: dir });
  assertEquals([val.name, val.maxLength, val.padSide], ["openbookqa", 128, "right"]);
  const loaded = await val.load();
  assertEquals([loaded.train.length, loaded.eval.length], [6, 2]);
  assertEquals(loaded.eval[0], {
    prompt: "Question: Question number 100?\nA. yes\nB. no\nContext: fact 100\nAnswer: ",
    target: "A",
  });
  const test = taskData({
    task: "openbookqa",
    path: dir,
    evalSplit: "test",
    trainLimit: 4,
    evalLimit: 2,
    maxLength: 64,
  });
  const t = await test.load();
  assertEquals([t.train.length, t.eval.length, test.maxLength], [4, 2, 64]);
  assertEquals(t.eval[1].target, "B");
  // The spec rebuilds the same source.
  assertEquals(test.spec?.options?.evalSplit, "test");
});

Deno.test("taskData and taskEval: bad options are pipeline problems naming the field", () => {
  const base = {
    model: { kind: "gpt", options: { vocab: 259, context: 16, layers: 1, dim: 8, heads: 2 } },
    loss: "ce",
    optimizer: { kind: "adamw", options: { lr: 1e-3 } },
    steps: 1,
  };
  const e = assertThrows(
    () =>
      pipeline({
        ...base,
        data: { kind: "task", options: { task: "squad", path: "", evalLimit: 0 } },
        eval: { kind: "task", options: { task: "gsm8k", decode: "beam" } },
      }),
    PipelineError,
  );
  const text = (e as PipelineError).message;
  for (
    const bit of [
      "data.options.task",
      "data.options.path",
      "data.options.evalLimit",
      "eval.options.decode",
    ]
  ) {
    assert(text.includes(bit), `${bit} in ${text}`);
  }
  assertThrows(() => taskEval({ task: "gsm8k", decode: "beam" as never }), RangeError);
  assertThrows(() => taskData({ task: "squad" as never, path: "x" }), RangeError);
});

Deno.test("teacherForcedAnswers: the argmax at each answer position, up to the predicted end", async () => {
  // After "b" the model says "c", after "c" it says "d", after "d" the end of sequence.
  const model = lookup({ [code("b")]: code("c"), [code("c")]: code("d"), [code("d")]: tok.eos });
  const data = inlineData({ train: [{ prompt: "ab", target: "cd" }], maxLength: 16 });
  const ex = [{ prompt: "ab", target: "cd" }, { prompt: "xb", target: "zz" }, {
    prompt: "b",
    target: "q",
  }];
  // Row 2: inputs b, z, z predict c, z, z (a token with no entry repeats itself); row 3:
  // inputs b, q predict c, q.
  const got = await teacherForcedAnswers(model, model.init(rng(0)), data, ex, 2);
  assertEquals(got, ["cd", "czz", "cq"]);
  // Left padding reads the same answers.
  const left = inlineData({ train: ex, maxLength: 16, padSide: "left" });
  assertEquals(await teacherForcedAnswers(model, model.init(rng(0)), left, ex, 3), got);
});

Deno.test("taskEval: both decodings score with the task's metrics, and the name says which", async () => {
  // After the prompt's last token (" ") the model answers "B", then ends.
  const model = lookup({ [code(" ")]: code("B"), [code("B")]: tok.eos });
  const ex = [
    { prompt: "Question: q\nA. x\nB. y\nAnswer: ", target: "B" },
    { prompt: "Question: r\nA. x\nB. y\nAnswer: ", target: "A" },
  ];
  const data = inlineData({ train: ex, eval: ex, maxLength: 48 });
  const run = pipeline({
    model,
    loss: "ce",
    optimizer: { kind: "adamw", options: { lr: 1e-3 } },
    data,
    eval: taskEval({ task: "openbookqa", decode: "teacherForced" }),
    steps: 1,
  });
  const params = model.init(rng(0));
  assertEquals(run.eval?.name, "openbookqa (teacher-forced argmax)");
  assertEquals(await evaluate(run, params), { count: 2, accuracy: 0.5, rouge1: 0.5 });
  const greedy = pipeline({ ...run, eval: taskEval({ task: "openbookqa", limit: 1 }) });
  assertEquals(greedy.eval?.name, "openbookqa (greedy generation)");
  assertEquals(await evaluate(greedy, params), { count: 1, accuracy: 1, rouge1: 1 });
  // A math task reads exact match and the step metrics.
  const math = pipeline({ ...run, eval: taskEval({ task: "gsm8k", decode: "teacherForced" }) });
  const m = await evaluate(math, params, {
    examples: [{ prompt: "Q ", target: "#### 7" }],
  });
  assertEquals([m.count, m.exactMatch], [1, 0]);
  assert("iou" in m && "commutativeIou" in m, JSON.stringify(m));
});

Deno.test("task parts: a pipeline with them goes to JSON and back", async () => {
  const dir = await openBookQaDir();
  const run = pipeline({
    model: { kind: "gpt", options: { vocab: 259, context: 128, layers: 1, dim: 8, heads: 2 } },
    loss: "ce",
    optimizer: { kind: "adamw", options: { lr: 1e-3 } },
    data: taskData({ task: "openbookqa", path: dir, evalLimit: 1 }),
    eval: taskEval({ task: "openbookqa", decode: "teacherForced", limit: 1 }),
    steps: 1,
  });
  const back = pipelineFromJSON(JSON.stringify(toJSON(run)));
  assertEquals(toJSON(back), toJSON(run));
  assertEquals(back.eval?.spec?.options, {
    task: "openbookqa",
    decode: "teacherForced",
    limit: 1,
    maxNewTokens: 8,
    batchSize: 8,
  });
  assertEquals((await back.data.load()).eval.length, 1);
});

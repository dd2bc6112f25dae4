/**
 * Synthetic records for the paper's four tasks, written in each task's own release format
 * (GSM8K's JSONL, MathQA's JSON arrays, OpenBookQA's "additional" JSONL with nested
 * questions, HellaSwag's JSONL), so that examples/paper.ts can run its whole grid without the
 * real datasets and still read them through the tasks' real loaders. The problems are small
 * and regular (one arithmetic step; a fact to copy; the next number of a count), which a
 * small model trained from scratch can begin to learn; they stand in for nothing the paper
 * measured.
 * @module
 */
import { gsm8kSynthetic, randomInt, seededRandom, shuffleInPlace, type TaskName } from "../mod.ts";
import { writeAtomic } from "./_cli.ts";

/** How many records per split each task gets. */
export interface SyntheticSizes {
  /** Training records (validation is held out from them where the task has no dev file). */
  train: number;
  /** Validation records (a dev file, or the held-out share of train). */
  validation: number;
  /** Test records. */
  test: number;
}

/** The files each task gets under `dir/<task>/`, in its release layout. */
export const SYNTHETIC_FILES: Readonly<Record<TaskName, readonly string[]>> = {
  gsm8k: ["train.jsonl", "test.jsonl"],
  mathqa: ["train.json", "dev.json", "test.json"],
  openbookqa: ["train", "dev", "test"].map((s) =>
    `OpenBookQA-V1-Sep2018/Data/Additional/${s}_complete.jsonl`
  ),
  hellaswag: ["hellaswag_train.jsonl", "hellaswag_val.jsonl"],
};

const jsonl = (records: unknown[]) => records.map((r) => JSON.stringify(r)).join("\n") + "\n";

async function put(dir: string, rel: string, text: string): Promise<void> {
  const path = `${dir}/${rel}`;
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await writeAtomic(path, text);
}

/**
 * Writes synthetic records for `tasks` under `dir/<task>/` (see {@linkcode SYNTHETIC_FILES}),
 * the same for the same seed, and returns `dir`.
 */
export async function writeSyntheticTasks(
  dir: string,
  tasks: readonly TaskName[],
  sizes: SyntheticSizes,
  seed: number,
): Promise<string> {
  const writers: Record<TaskName, () => Promise<void>> = {
    gsm8k: () => writeGsm8k(`${dir}/gsm8k`, sizes, seed),
    mathqa: () => writeMathQa(`${dir}/mathqa`, sizes, seed),
    openbookqa: () => writeOpenBookQa(`${dir}/openbookqa`, sizes, seed),
    hellaswag: () => writeHellaSwag(`${dir}/hellaswag`, sizes, seed),
  };
  for (const t of tasks) await writers[t]();
  return dir;
}

/** The share of train a task without a dev file holds out: the held-out count is round(n/10). */
function withHeldOut(sizes: SyntheticSizes): number {
  return Math.max(sizes.train + sizes.validation, 10 * sizes.validation);
}

async function writeGsm8k(dir: string, sizes: SyntheticSizes, seed: number): Promise<void> {
  const opts = { seed, difficulty: 1 as const, maxNumber: 20 };
  const line = (e: { question: string; answer: string }) => ({
    question: e.question,
    answer: e.answer,
  });
  const train = gsm8kSynthetic({ ...opts, count: withHeldOut(sizes), split: "train" });
  const test = gsm8kSynthetic({ ...opts, count: sizes.test, split: "test" });
  await put(dir, "train.jsonl", jsonl(train.map(line)));
  await put(dir, "test.jsonl", jsonl(test.map(line)));
}

const LETTERS = ["a", "b", "c", "d", "e"];
const OPS = [
  { name: "add", word: "plus", f: (a: number, b: number) => a + b },
  { name: "subtract", word: "minus", f: (a: number, b: number) => a - b },
  { name: "multiply", word: "times", f: (a: number, b: number) => a * b },
];

async function writeMathQa(dir: string, sizes: SyntheticSizes, seed: number): Promise<void> {
  const rng = seededRandom(seed + 1);
  const record = () => {
    const op = OPS[randomInt(rng, 0, OPS.length - 1)];
    const a = randomInt(rng, 2, 20), b = randomInt(rng, 2, 20);
    const answer = op.f(a, b);
    const wrong = [answer + 1, answer - 2, answer + 5].map(String);
    const choices = shuffleInPlace([String(answer), ...wrong], rng);
    const correct = LETTERS[choices.indexOf(String(answer))];
    return {
      Problem: `what is ${a} ${op.word} ${b} ?`,
      Rationale: `"${a} ${op.word} ${b} = ${answer} answer : ${correct}"`,
      options: [...choices, "none of these"].map((c, i) => `${LETTERS[i]} ) ${c}`).join(" , "),
      correct,
      annotated_formula: `${op.name}(${a}, ${b})`,
      linear_formula: `${op.name}(n0,n1)|`,
      category: "general",
    };
  };
  const make = (n: number) => Array.from({ length: n }, record);
  await put(dir, "train.json", JSON.stringify(make(sizes.train)));
  await put(dir, "dev.json", JSON.stringify(make(sizes.validation)));
  await put(dir, "test.json", JSON.stringify(make(sizes.test)));
}

const THINGS = ["apple", "sky", "leaf", "cloud", "stone", "rose", "coal", "snow", "sea", "sun"];
const COLORS = ["red", "blue", "green", "white", "grey", "black", "yellow", "pink"];

async function writeOpenBookQa(dir: string, sizes: SyntheticSizes, seed: number): Promise<void> {
  const rng = seededRandom(seed + 2);
  let id = 0;
  const record = () => {
    const thing = THINGS[randomInt(rng, 0, THINGS.length - 1)];
    const colors = shuffleInPlace([...COLORS], rng).slice(0, 4);
    const right = randomInt(rng, 0, 3);
    const labels = ["A", "B", "C", "D"];
    return {
      id: `synthetic-${id++}`,
      question: {
        stem: `What color is the ${thing} here?`,
        choices: colors.map((text, i) => ({ text, label: labels[i] })),
      },
      fact1: `the ${thing} here is ${colors[right]}`,
      humanScore: "1.00",
      clarity: "2.00",
      turkIdAnonymized: "synthetic",
      answerKey: labels[right],
    };
  };
  const make = (n: number) => jsonl(Array.from({ length: n }, record));
  const [train, dev, test] = SYNTHETIC_FILES.openbookqa;
  await put(dir, train, make(sizes.train));
  await put(dir, dev, make(sizes.validation));
  await put(dir, test, make(sizes.test));
}

async function writeHellaSwag(dir: string, sizes: SyntheticSizes, seed: number): Promise<void> {
  const rng = seededRandom(seed + 3);
  let ind = 0;
  const record = (split: "train" | "val") => () => {
    const start = randomInt(rng, 1, 40), step = randomInt(rng, 1, 3);
    const seq = [0, 1, 2].map((i) => start + i * step);
    const next = start + 3 * step;
    const endings = shuffleInPlace([next, next + 1, next - step - 1, next + 2 * step], rng);
    const label = endings.indexOf(next);
    const ctxA = `Counting by ${step}: ${seq.join(", ")}.`;
    return {
      ind: ind++,
      activity_label: "Counting",
      ctx_a: ctxA,
      ctx_b: "then",
      ctx: `${ctxA} then`,
      split,
      split_type: "indomain",
      label,
      endings: endings.map((n) => `${n} comes next.`),
      source_id: `synthetic-${ind}`,
    };
  };
  const make = (n: number, split: "train" | "val") =>
    jsonl(Array.from({ length: n }, record(split)));
  await put(dir, "hellaswag_train.jsonl", make(withHeldOut(sizes), "train"));
  await put(dir, "hellaswag_val.jsonl", make(sizes.test, "val"));
}

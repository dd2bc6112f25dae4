// The examples' declared flags: typed values, the error texts the examples' tests rely on, a
// JSON config file under the flags, the help laid out from the declarations, and --resume.
import {
  choice,
  commandLine,
  config,
  flag,
  int,
  list,
  num,
  numbers,
  resumedFlags,
  section,
  text,
  UsageError,
} from "../../examples/_cli.ts";
import { assert, assertEquals, assertRejects } from "../_assert.ts";

const cli = commandLine({
  title: "demo: a test program",
  usage: "demo [flags]",
  flags: {
    ...section("Inputs", {
      data: text("DIR", "a folder"),
      cache: text("DIR", "download folder", ".cache/x"),
      "skip-bad": flag("skip bad lines"),
    }),
    ...section("Training", {
      losses: list("LIST", "losses", { choices: ["ce", "focal"], default: ["ce"], noun: "loss" }),
      weights: numbers("A,B", "the two weights", { default: [0.6, 0.4], min: 0 }),
      steps: int("N", "steps (default 700; 150 with --model)", { min: 1 }),
      "max-number": int("N", "below N", { default: 50, min: 10, max: 1000 }),
      lr: num("X", "rate", { min: 0 }),
      arch: choice("NAME", "model", { choices: ["llama", "gpt"], default: "llama" }),
      level: choice("D", "difficulty", { choices: [1, 2, "mixed"], default: 1 }),
      config: config("FILE", "JSON flags (flags win)"),
    }),
  },
  footer: "Exit codes: 0, 2, 1.",
});

Deno.test("commandLine: defaults, camelCase names and typed values", async () => {
  const o = await cli.parse(["--losses", "focal, ce", "--max-number", "20", "--level", "mixed"]);
  assertEquals(o, {
    data: undefined,
    cache: ".cache/x",
    skipBad: false,
    losses: ["focal", "ce"],
    weights: [0.6, 0.4],
    steps: undefined,
    maxNumber: 20,
    lr: undefined,
    arch: "llama",
    level: "mixed",
  });
  const level: 1 | 2 | "mixed" = o!.level;
  const weights: [number, number] = o!.weights;
  assertEquals([level, weights.length], ["mixed", 2]);
});

Deno.test("commandLine: bad input is a UsageError with the examples' messages", async () => {
  const cases: [string[], string][] = [
    [["--losses", "ce,nope"], '--losses: unknown loss "nope"; valid: ce, focal'],
    [["--losses", ","], "--losses: name at least one loss"],
    [["--weights", "1"], '--weights: expected two numbers like 0.6,0.4, got "1"'],
    [["--weights", "1,-1"], "--weights: must be >= 0, got -1"],
    [["--steps", "many"], '--steps: expected an integer, got "many"'],
    [["--max-number", "5000"], "--max-number: must be <= 1000, got 5000"],
    [["--arch", "rnn"], '--arch: expected llama or gpt, got "rnn"'],
    [["--level", "4"], '--level: expected 1, 2 or mixed, got "4"'],
  ];
  for (const [args, message] of cases) {
    const e = await assertRejects(() => cli.parse(args), UsageError);
    assertEquals(e.message, message);
  }
  const e = await assertRejects(() => cli.parse(["--bogus"]), UsageError);
  assert(e.message.includes("bogus") && !e.message.includes("\n"), e.message);
});

Deno.test("commandLine: a config file supplies flags not given; lists may be arrays", async () => {
  const file = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(file, JSON.stringify({ losses: ["focal"], steps: 5, lr: 0.1 }));
  const o = await cli.parse(["--config", file, "--steps", "7"]);
  assertEquals([o!.losses, o!.steps, o!.lr], [["focal"], 7, 0.1]);
  await Deno.writeTextFile(file, JSON.stringify({ nope: 1 }));
  const e = await assertRejects(() => cli.parse(["--config", file]), UsageError);
  assertEquals(e.message, `--config ${file}: unknown key "nope"`);
  await Deno.remove(file);
});

Deno.test("commandLine: the help is laid out from the declarations", () => {
  const lines = cli.help.split("\n");
  assertEquals(lines.slice(0, 5), [
    "demo: a test program",
    "",
    "Usage: demo [flags]",
    "",
    "Inputs",
  ]);
  assert(lines.includes("  --cache DIR       download folder (default .cache/x)"), cli.help);
  assert(lines.includes("  --skip-bad        skip bad lines"), cli.help);
  assert(lines.includes("  --weights A,B     the two weights (default 0.6,0.4)"), cli.help);
  // A help that names its default is left as it is.
  assert(lines.includes("  --steps N         steps (default 700; 150 with --model)"), cli.help);
  assert(lines.includes("Training") && lines.at(-3) === "  --help            this text");
  assertEquals(lines.at(-1), "Exit codes: 0, 2, 1.");
});

Deno.test("resumedFlags: a run's run.json gives its flags back, but for `keep`", async () => {
  const dir = await Deno.makeTempDir();
  const saved = { steps: 5, workers: 2, out: "x" };
  await Deno.writeTextFile(`${dir}/run.json`, JSON.stringify({ date: "d", options: saved }));
  const now = { steps: 9, workers: 4 as number | undefined, out: "y", resume: dir };
  assertEquals(await resumedFlags(now, "demo run", ["workers"]), {
    steps: 5,
    workers: 4,
    out: "x",
    resume: dir,
  });
  assertEquals(
    (await resumedFlags({ ...now, workers: undefined }, "demo run", ["workers"])).workers,
    2,
  );
  const e = await assertRejects(() => resumedFlags({ resume: "/nonexistent" }, "demo run"));
  assertEquals(
    (e as Error).message,
    "--resume /nonexistent: no readable run.json there (not a demo run)",
  );
  await Deno.remove(dir, { recursive: true });
});

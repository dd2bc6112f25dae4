// A small sweep as a program, for the tests that signal or kill a run:
//   deno run -A tests/dsl/_sweep_child.ts OUT STEPS WORKERS [EVERY]
// Two variants (ce, focal) of the tiny bigram pipeline, checkpointed every EVERY (3) steps, with
// an evaluator; it always resumes what OUT holds. Exit codes as the train command's: 0 done,
// 130 / 143 interrupted by SIGINT / SIGTERM, 1 failed.
import { LossforgeError, pipeline, signalExitCode, sweep } from "../../mod.ts";
import { tinySpec } from "./_tiny.ts";

const [out, steps, workers, every = "3"] = Deno.args;
const base = pipeline(tinySpec({
  eval: { kind: "exact-match", options: { maxNewTokens: 4 } },
  steps: Number(steps),
  logEvery: 2,
  checkpoint: { dir: "unused", every: Number(every), keep: 2 },
}));
try {
  const table = await sweep(base, { loss: ["ce", "focal"] }, {
    out,
    folder: (v) => v.loss,
    workers: Number(workers),
    imports: [new URL("./_tiny.ts", import.meta.url)],
    resume: true,
    progressWrite: (t) => Deno.stdout.writeSync(new TextEncoder().encode(t)),
  });
  if (table.stopped === "interrupted") {
    console.log(`interrupted by ${table.signal}: resume with the same command`);
    Deno.exit(signalExitCode(table.signal ?? "SIGINT"));
  }
} catch (e) {
  if (!(e instanceof LossforgeError)) throw e;
  console.error(`error: ${e.message}`);
  Deno.exit(1);
}

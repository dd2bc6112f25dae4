/**
 * Quick start: declare a pipeline, train a tiny GPT from scratch to add single digits
 * ("7+8=" → "15"), watch the loss fall, then ask it a few sums with greedy decoding. About
 * 20 seconds on a laptop CPU.
 *
 *   deno run -A examples/quickstart.ts [--steps 300] [--backend cpu|webgpu]
 *
 * The training set is the whole addition table, so this shows fitting, not generalisation;
 * examples/gsm8k.ts evaluates on held-out problems.
 * @module
 */
import { parseArgs } from "node:util";
import { greedyGenerate, inlineData, pipeline, setBackend, train } from "../mod.ts";

const HELP = `examples/quickstart.ts: train a tiny GPT to add single digits

Usage: deno run -A examples/quickstart.ts [--steps N] [--backend cpu|webgpu]

  --steps N         optimizer steps (default 300)
  --backend NAME    cpu (default; fastest for a model this small) or webgpu
  --help            this text

Exit codes: 0 success, 2 bad input, 1 internal error.`;

function usage(message: string): never {
  console.error(`error: ${message}`);
  Deno.exit(2);
}

let flags;
try {
  const options = { steps: { type: "string" }, backend: { type: "string" } } as const;
  flags = parseArgs({ options: { ...options, help: { type: "boolean", short: "h" } } }).values;
} catch (e) {
  usage((e as Error).message.split("\n")[0]);
}
if (flags.help) {
  console.log(HELP);
  Deno.exit(0);
}
const steps = Number(flags.steps ?? 300);
if (!Number.isInteger(steps) || steps < 1) {
  usage(`--steps: expected an integer >= 1, got "${flags.steps}"`);
}
const backend = flags.backend ?? "cpu";
if (backend !== "cpu" && backend !== "webgpu") {
  usage(`--backend: expected cpu or webgpu, got "${backend}"`);
}
await setBackend(backend);

// The data: every "a+b=" with a, b in 0..9, and its sum as the target.
const sums = Array.from({ length: 100 }, (_, i) => ({
  prompt: `${Math.floor(i / 10)}+${i % 10}=`,
  target: String(Math.floor(i / 10) + (i % 10)),
}));

// A pipeline is plain data: each part is a registry name plus options, or a live object.
const run = pipeline({
  model: { kind: "gpt", options: { vocab: 259, context: 8, layers: 1, dim: 48, heads: 4 } },
  loss: "ce", // next-token cross-entropy over every position (the random digits set a floor)
  optimizer: { kind: "adamw", options: { lr: 5e-3, weightDecay: 0.01 } },
  data: inlineData({ train: sums, maxLength: 8 }), // byte-level tokens: 256 bytes + 3 specials
  steps,
  batchSize: 32,
  logEvery: 25,
});

const result = await train(run, {
  progress: false,
  onEvent: (e) => console.log(`step ${String(e.step).padStart(4)}  loss ${e.loss.toFixed(3)}`),
});

const prompts = ["2+3=", "7+8=", "9+9=", "4+0="];
const answers = await greedyGenerate(run.model, result.params, run.data.tokenizer, prompts, {
  maxNewTokens: 3,
  context: 8,
});
console.log(`\n${prompts.map((p, i) => `${p}${answers[i]}`).join("   ")}`);

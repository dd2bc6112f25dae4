/**
 * Forward + backward of every loss on WebGPU, as a ratio to cross-entropy in the same run.
 *
 *   deno run -A bench/losses.ts            # N = 4,096 positions ([8, 512]), C = 32,000
 *   deno run -A bench/losses.ts --quick    # N = 256 ([2, 128]), C = 2,000: software adapters
 *   deno run -A bench/losses.ts --n 1024 --c 8000 --reps 5
 *   deno run -A bench/losses.ts --only lovasz      # cross-entropy and the matching losses
 *
 * Each loss runs `reps` times back to back after a warm-up; the time is measured to the
 * GPU's completion (one wait per loss, so the ~11 ms wait costs little) and printed as a
 * Markdown table.
 * @module
 */
import { parseArgs } from "node:util";
import {
  backendInstance,
  combine,
  crossEntropy,
  dice,
  dynamicFineTuning,
  focal,
  focalTversky,
  generalizedDice,
  jaccard,
  type LossFn,
  lovaszHinge,
  lovaszSoftmax,
  probabilityLoss,
  randn,
  rng,
  selfAdjustingDice,
  setBackend,
  temperedFocal,
  type Tensor,
  tensor,
  tversky,
  valueAndGrad,
  type WebGpuBackend,
} from "../mod.ts";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    n: { type: "string" },
    c: { type: "string" },
    reps: { type: "string" },
    seq: { type: "string" },
    only: { type: "string" },
  },
});
const quick = args.quick as boolean;
const n = Number(args.n ?? (quick ? 256 : 4096));
const classes = Number(args.c ?? (quick ? 2000 : 32000));
const reps = Number(args.reps ?? (quick ? 3 : 10));
const seq = Math.min(n, Number(args.seq ?? (quick ? 128 : 512)));
const batch = Math.max(1, Math.floor(n / seq));

await setBackend("webgpu");
const gpu = backendInstance("webgpu") as WebGpuBackend;

// Logits [B, T, C]; targets drawn from a Zipf-like law as tokens are, 10% ignored (prompt).
const r = rng(42);
const logits = randn([batch, seq, classes], { rng: r, std: 2 });
const ids = new Int32Array(batch * seq);
const answer = new Float32Array(batch * seq);
for (let i = 0; i < ids.length; i++) {
  ids[i] = r.uniform() < 0.1 ? -100 : Math.floor(classes * Math.pow(r.uniform(), 3));
  answer[i] = i % seq >= seq / 2 ? 1 : 0;
}
const targets = tensor(ids, { shape: [batch, seq] });
const answerMask = tensor(answer, { shape: [batch, seq] });
const binaryTargets = tensor(ids.map((t) => (t < 0 ? -100 : t % 2)), { shape: [batch, seq] });
const binaryLogits = randn([batch, seq], { rng: r });
// Per-class weights as a user would give them: rarer (higher) ids weigh more.
const classWeights = Array.from({ length: classes }, (_, k) => 1 + k / classes);

interface Case {
  label: string;
  run: (z: Tensor) => Tensor;
  input: Tensor;
}

const classCase = (label: string, loss: LossFn): Case => ({
  label,
  run: (z) => loss(z, targets),
  input: logits,
});

const cases: Case[] = [
  classCase("crossEntropy", crossEntropy()),
  classCase("crossEntropy (composed, fused: false)", crossEntropy({ fused: false })),
  classCase("focal", focal()),
  classCase("dice", dice()),
  classCase("jaccard", jaccard()),
  classCase("tversky", tversky({ alpha: 0.3, beta: 0.7 })),
  classCase("dice (squared, logLoss)", dice({ squared: true, logLoss: true })),
  classCase("dice (perSequence, classWeights)", dice({ perSequence: true, classWeights })),
  classCase("focal-Tversky (gamma 0.75, squared)", focalTversky({ squared: true })),
  classCase("generalizedDice (per sequence)", generalizedDice()),
  classCase("selfAdjustingDice", selfAdjustingDice()),
  classCase("lovaszSoftmax", lovaszSoftmax()),
  classCase("lovaszSoftmax (classWeights)", lovaszSoftmax({ classWeights })),
  classCase("dynamicFineTuning", dynamicFineTuning()),
  classCase("dynamicFineTuning (composed, fused: false)", dynamicFineTuning({ fused: false })),
  classCase("probabilityLoss (a = 0.5)", probabilityLoss({ a: 0.5 })),
  classCase(
    "probabilityLoss (a = 0.5, composed, fused: false)",
    probabilityLoss({ a: 0.5, fused: false }),
  ),
  classCase("temperedFocal", temperedFocal()),
  classCase("temperedFocal (composed, fused: false)", temperedFocal({ fused: false })),
  {
    label: "lovaszHinge (binary, [B, T] logits)",
    run: (z) => lovaszHinge()(z, binaryTargets),
    input: binaryLogits,
  },
  {
    label: "0.6 crossEntropy + 0.4 lovaszSoftmax[answer]",
    run: (z) =>
      combine([[crossEntropy(), 0.6], [lovaszSoftmax(), 0.4, { mask: "answer" }]])(z, targets, {
        answerMask,
      }),
    input: logits,
  },
];

async function time(c: Case): Promise<number> {
  const step = () => {
    const [v, g] = valueAndGrad(c.run)(c.input);
    v.dispose();
    g.dispose();
  };
  step();
  await gpu.done();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) step();
  await gpu.done();
  return (performance.now() - t0) / reps;
}

const only = (args.only as string | undefined)?.toLowerCase();
const rows: [string, number, string?][] = [];
for (const c of cases.filter((c, i) => i === 0 || !only || c.label.toLowerCase().includes(only))) {
  try {
    rows.push([c.label, await time(c)]);
  } catch (e) {
    console.error(`${c.label}: ${(e as Error).message}`);
    rows.push([c.label, NaN, (e as Error).message]);
  }
}
const ce = rows[0][1];
console.log(
  `\nForward + backward on ${gpu.context.info.description}: N = ${n} ([${batch}, ${seq}]), ` +
    `C = ${classes}, ${reps} reps\n`,
);
console.log("| loss | ms | × crossEntropy |\n|---|---:|---:|");
for (const [label, ms, error] of rows) {
  if (error) console.log(`| ${label} | not run: ${error.replaceAll("|", "/")} | — |`);
  else console.log(`| ${label} | ${ms.toFixed(2)} | ${(ms / ce).toFixed(2)} |`);
}

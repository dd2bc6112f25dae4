import { backendInstance, crossEntropy, dice, focalTversky, generalizedDice, jaccard, lovaszSoftmax, randn, rng, setBackend, tensor, tversky, valueAndGrad, type LossFn, type Tensor, type WebGpuBackend } from "./mod.ts";
await setBackend("webgpu");
const gpu = backendInstance("webgpu") as WebGpuBackend;
const [b, t, c] = [2, 128, 2000];
const z = randn([b, t, c], { rng: rng(1), std: 2 });
const ids = Array.from({ length: b * t }, (_, i) => (i % 10 === 0 ? -100 : Math.floor(c * Math.pow(((i * 7919) % 1000) / 1000, 3))));
const y = tensor(ids, { dtype: "int32", shape: [b, t] });
const w = Array.from({ length: c }, (_, k) => 1 + k / c);
const cases: [string, LossFn][] = [
  ["crossEntropy", crossEntropy()], ["dice", dice()], ["tversky", tversky({ alpha: 0.3, beta: 0.7 })],
  ["dice (squared, logLoss)", dice({ squared: true, logLoss: true })],
  ["dice (perSequence, classWeights)", dice({ perSequence: true, classWeights: w })],
  ["focal-Tversky (gamma 0.75, squared)", focalTversky({ squared: true })],
  ["jaccard (all, empty one)", jaccard({ classes: "all", empty: "one" })],
  ["generalizedDice", generalizedDice()],
  ["lovaszSoftmax", lovaszSoftmax()], ["lovaszSoftmax (classWeights)", lovaszSoftmax({ classWeights: w })],
];
const best = new Map<string, number>();
const step = (loss: LossFn) => { const [v, g] = valueAndGrad((x: Tensor) => loss(x, y))(z); v.dispose(); g.dispose(); };
for (const [, l] of cases) step(l);
await gpu.done();
for (let round = 0; round < 7; round++) {
  for (const [label, loss] of cases) {
    const t0 = performance.now();
    for (let i = 0; i < 4; i++) step(loss);
    await gpu.done();
    const ms = (performance.now() - t0) / 4;
    best.set(label, Math.min(best.get(label) ?? Infinity, ms));
  }
}
const ce = best.get("crossEntropy")!;
for (const [label, ms] of best) console.log(`| ${label} | ${ms.toFixed(2)} | ${(ms / ce).toFixed(2)} |`);

// The contract (docs/losses.md) as plain float64 loops, independent of the
// engine: the losses must agree with these on random inputs.

/** A problem: logits rows [N][C], targets [N] (-100 ignores), optional mask [N]. */
export interface Problem {
  logits: number[][];
  targets: number[];
  mask?: number[];
}

function softmaxRow(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Indices of the counted positions M. */
export function counted(p: Problem): number[] {
  const out: number[] = [];
  p.targets.forEach((t, i) => {
    if (t !== -100 && (p.mask ? p.mask[i] !== 0 : true)) out.push(i);
  });
  return out;
}

function meanOf(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

/** Per-position cross-entropy with label smoothing e. */
export function refCrossEntropyAt(p: Problem, i: number, e = 0): number {
  const pr = softmaxRow(p.logits[i]);
  const nll = -Math.log(pr[p.targets[i]]);
  return (1 - e) * nll + e * meanOf(pr.map((v) => -Math.log(v)));
}

export function refCrossEntropy(p: Problem, e = 0): number {
  return meanOf(counted(p).map((i) => refCrossEntropyAt(p, i, e)));
}

export function refFocalAt(p: Problem, i: number, gamma: number, alpha?: number[]): number {
  const pt = softmaxRow(p.logits[i])[p.targets[i]];
  return -(alpha ? alpha[p.targets[i]] : 1) * Math.pow(1 - pt, gamma) * Math.log(pt);
}

export function refFocal(p: Problem, gamma = 2, alpha?: number[]): number {
  return meanOf(counted(p).map((i) => refFocalAt(p, i, gamma, alpha)));
}

/** DFT at one position: -p_t log p_t (the value; the stop-gradient only shapes the gradient). */
export function refDftAt(p: Problem, i: number): number {
  const pt = softmaxRow(p.logits[i])[p.targets[i]];
  return -pt * Math.log(pt);
}

export function refDft(p: Problem): number {
  return meanOf(counted(p).map((i) => refDftAt(p, i)));
}

/** The probability family at one position: (1 - p_t^a) / a, -log p_t at a = 0. */
export function refProbabilityAt(p: Problem, i: number, a = 1): number {
  const pt = softmaxRow(p.logits[i])[p.targets[i]];
  return a === 0 ? -Math.log(pt) : -Math.expm1(a * Math.log(pt)) / a;
}

export function refProbability(p: Problem, a = 1): number {
  return meanOf(counted(p).map((i) => refProbabilityAt(p, i, a)));
}

/** Tempered focal at one position: -w(p_t, g) b log q_t, q = softmax(z / b). */
export function refTemperedFocalAt(p: Problem, i: number, gamma = 3, b = 0.8): number {
  const t = p.targets[i];
  const pt = softmaxRow(p.logits[i])[t];
  // log q_t as a log-sum-exp: q_t itself underflows to a subnormal at a small temperature.
  const zb = p.logits[i].map((v) => v / b);
  const m = Math.max(...zb);
  const logQt = zb[t] - m - Math.log(zb.reduce((acc, v) => acc + Math.exp(v - m), 0));
  // 1 - p_t as the other classes' sum and log p_t as a log-sum-exp: both cancel when p_t ≈ 1.
  const probs = softmaxRow(p.logits[i]);
  const rest = probs.reduce((acc, v, k) => (k === t ? acc : acc + v), 0);
  const z = p.logits[i], mz = Math.max(...z);
  const logPt = z[t] - mz - Math.log(z.reduce((acc, v) => acc + Math.exp(v - mz), 0));
  const u = Math.max(rest, 1e-30);
  const w = Math.pow(u, gamma) -
    (gamma === 0 ? 0 : gamma * pt * Math.pow(u, gamma - 1) * logPt);
  return -w * b * logQt;
}

export function refTemperedFocal(p: Problem, gamma = 3, b = 0.8): number {
  return meanOf(counted(p).map((i) => refTemperedFocalAt(p, i, gamma, b)));
}

/** Per-class S(py), S(p), S(y) over the given positions. */
function sums(p: Problem, rows: number[]): { tp: number[]; sp: number[]; sy: number[] } {
  const c = p.logits[0].length;
  const tp = new Array(c).fill(0), sp = new Array(c).fill(0), sy = new Array(c).fill(0);
  for (const i of rows) {
    const pr = softmaxRow(p.logits[i]);
    for (let k = 0; k < c; k++) sp[k] += pr[k];
    tp[p.targets[i]] += pr[p.targets[i]];
    sy[p.targets[i]] += 1;
  }
  return { tp, sp, sy };
}

function classMean(perClass: number[], sy: number[], classes: "present" | "all"): number {
  if (classes === "all") return meanOf(perClass);
  return meanOf(perClass.filter((_, k) => sy[k] > 0));
}

export function refDice(p: Problem, s = 1e-5, classes: "present" | "all" = "present"): number {
  const { tp, sp, sy } = sums(p, counted(p));
  return classMean(tp.map((t, k) => 1 - (2 * t + s) / (sp[k] + sy[k] + s)), sy, classes);
}

export function refJaccard(p: Problem, s = 1e-5, classes: "present" | "all" = "present"): number {
  const { tp, sp, sy } = sums(p, counted(p));
  return classMean(tp.map((t, k) => 1 - (t + s) / (sp[k] + sy[k] - t + s)), sy, classes);
}

export function refTversky(
  p: Problem,
  a = 0.5,
  b = 0.5,
  s = 1e-5,
  classes: "present" | "all" = "present",
): number {
  const { tp, sp, sy } = sums(p, counted(p));
  const per = tp.map((t, k) => 1 - (t + s) / (t + a * (sp[k] - t) + b * (sy[k] - t) + s));
  return classMean(per, sy, classes);
}

/** Generalized Dice; `sequences` lists the rows of each sequence. */
export function refGeneralizedDice(
  p: Problem,
  sequences: number[][],
  weight: "square" | "simple" | "uniform" = "square",
  s = 1e-5,
): number {
  const valid = new Set(counted(p));
  const values: number[] = [];
  for (const seq of sequences) {
    const rows = seq.filter((i) => valid.has(i));
    if (!rows.length) continue;
    const { tp, sp, sy } = sums(p, rows);
    let w = sy.map((y) =>
      y > 0 ? (weight === "square" ? 1 / (y * y) : weight === "simple" ? 1 / y : 1) : NaN
    );
    const wmax = Math.max(...w.filter((v) => !Number.isNaN(v)));
    w = w.map((v) => (Number.isNaN(v) ? wmax : v));
    let num = 0, den = 0;
    for (let k = 0; k < w.length; k++) {
      num += w[k] * tp[k];
      den += w[k] * (sp[k] + sy[k]);
    }
    values.push(1 - (2 * num + s) / (den + s));
  }
  return meanOf(values);
}

export function refSelfAdjustingDiceAt(p: Problem, i: number, a = 1, g = 1): number {
  const pt = softmaxRow(p.logits[i])[p.targets[i]];
  const q = Math.pow(1 - pt, a) * pt;
  return 1 - (2 * q + g) / (q + 1 + g);
}

export function refSelfAdjustingDice(p: Problem, a = 1, g = 1): number {
  return meanOf(counted(p).map((i) => refSelfAdjustingDiceAt(p, i, a, g)));
}

/** Σ_k e_π(k) g_k for errors and 0/1 ground truth (the Lovász extension of Jaccard). */
export function refLovaszExtension(errors: number[], y: number[]): number {
  const order = errors.map((_, i) => i).sort((i, j) => errors[j] - errors[i] || i - j);
  const G = y.reduce((a, b) => a + b, 0);
  let cy = 0, cn = 0, prevJ = 0, total = 0;
  for (const i of order) {
    cy += y[i];
    cn += 1 - y[i];
    const J = 1 - (G - cy) / (G + cn);
    total += errors[i] * (J - prevJ);
    prevJ = J;
  }
  return total;
}

export function refLovaszSoftmax(p: Problem, classes: "present" | "all" = "present"): number {
  const rows = counted(p);
  const c = p.logits[0].length;
  const probs = rows.map((i) => softmaxRow(p.logits[i]));
  const per: number[] = [];
  for (let k = 0; k < c; k++) {
    const y = rows.map((i) => (p.targets[i] === k ? 1 : 0));
    if (classes === "present" && !y.some((v) => v)) continue;
    if (!rows.length) continue;
    per.push(refLovaszExtension(probs.map((pr, j) => Math.abs(y[j] - pr[k])), y));
  }
  return meanOf(per);
}

/** Lovász hinge over sequences of (logit, 0/1 or -100) pairs. */
export function refLovaszHinge(logits: number[][], targets: number[][]): number {
  const values: number[] = [];
  logits.forEach((z, b) => {
    const rows = targets[b].map((t, i) => (t === -100 ? -1 : i)).filter((i) => i >= 0);
    if (!rows.length) return;
    const y = rows.map((i) => targets[b][i]);
    const err = rows.map((i, j) => 1 - z[i] * (2 * y[j] - 1));
    const order = err.map((_, i) => i).sort((i, j) => err[j] - err[i] || i - j);
    const G = y.reduce((a, c) => a + c, 0);
    let cy = 0, cn = 0, prevJ = 0, total = 0;
    for (const i of order) {
      cy += y[i];
      cn += 1 - y[i];
      const J = 1 - (G - cy) / (G + cn);
      total += Math.max(err[i], 0) * (J - prevJ);
      prevJ = J;
    }
    values.push(total);
  });
  return meanOf(values);
}

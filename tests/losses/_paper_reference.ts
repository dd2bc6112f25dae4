// What the code published with the paper computes (docs/losses.md#paper), as plain float64
// loops that follow its steps one by one: multiply the logits (Lovász: the probabilities)
// and the targets by the mask, softmax, gather, reduce. Independent of the engine; the
// "paper" masking of every loss must agree with these.
import type { Problem } from "./_reference.ts";

/** m_i: 1 where the target is not -100 (and the mask, if any, is non-zero), else 0. */
export function keepMask(p: Problem): number[] {
  return p.targets.map((t, i) => (t !== -100 && (p.mask ? p.mask[i] !== 0 : true) ? 1 : 0));
}

/** The published code's first step: logits and targets multiplied by the mask. */
export function multiplied(p: Problem): { z: number[][]; t: number[] } {
  const m = keepMask(p);
  return {
    z: p.logits.map((row, i) => row.map((v) => v * m[i])),
    t: p.targets.map((t, i) => t * m[i]),
  };
}

function softmax(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

/** PyTorch's cross-entropy with ignore_index -100: the mean over the kept positions. */
export function paperCrossEntropy(p: Problem): number {
  const m = keepMask(p);
  const terms: number[] = [];
  p.logits.forEach((z, i) => {
    if (m[i]) terms.push(-Math.log(softmax(z)[p.targets[i]]));
  });
  return mean(terms);
}

/** Focal: -(1 - pt)^g · a_t log pt at every position (ignored ones zeroed), then the mean. */
export function paperFocal(p: Problem, gamma = 2, alpha?: number[]): number {
  const { z, t } = multiplied(p);
  return mean(z.map((row, i) => {
    const pt = softmax(row)[t[i]];
    const logpt = Math.log(pt) * (alpha ? alpha[t[i]] : 1);
    return -1 * Math.pow(1 - pt, gamma) * logpt;
  }));
}

/** Self-Adjusting Dice: q = (1 - pt)^a pt, 1 - (2q + g)/(q + 1 + g), mean over every position. */
export function paperSelfAdjustingDice(p: Problem, a = 1, g = 1): number {
  const { z, t } = multiplied(p);
  return mean(z.map((row, i) => {
    const pt = softmax(row)[t[i]];
    const q = Math.pow(1 - pt, a) * pt;
    return 1 - (2 * q + g) / (q + 1 + g);
  }));
}

/**
 * A per-position loss `at(z_i, t_i)` in the published code's convention (the new token
 * losses are not in that code; they follow its focal and SA-Dice): every position, zeroed.
 */
export function paperPerPosition(p: Problem, at: (z: number[], t: number) => number): number {
  const { z, t } = multiplied(p);
  return mean(z.map((row, i) => at(row, t[i])));
}

/** DFT, -p_t log p_t, over every position with ignored ones zeroed. */
export function paperDft(p: Problem): number {
  return paperPerPosition(p, (z, t) => {
    const pt = softmax(z)[t];
    return -pt * Math.log(pt);
  });
}

/** The probability family (1 - p_t^a) / a over every position with ignored ones zeroed. */
export function paperProbability(p: Problem, a = 1): number {
  return paperPerPosition(p, (z, t) => {
    const pt = softmax(z)[t];
    return a === 0 ? -Math.log(pt) : (1 - Math.pow(pt, a)) / a;
  });
}

/** Tempered focal over every position with ignored ones zeroed. */
export function paperTemperedFocal(p: Problem, g = 3, b = 0.8): number {
  return paperPerPosition(p, (z, t) => {
    const pt = softmax(z)[t];
    const qt = softmax(z.map((v) => v / b))[t];
    const w = Math.pow(1 - pt, g) - g * pt * Math.pow(1 - pt, g - 1) * Math.log(pt);
    return -w * b * Math.log(qt);
  });
}

/** Per-class S(py), S(p), S(y) over every position of the multiplied problem. */
function paperSums(p: Problem): { tp: number[]; sp: number[]; sy: number[] } {
  const { z, t } = multiplied(p);
  const c = z[0].length;
  const tp = new Array(c).fill(0), sp = new Array(c).fill(0), sy = new Array(c).fill(0);
  z.forEach((row, i) => {
    const pr = softmax(row);
    for (let k = 0; k < c; k++) sp[k] += pr[k];
    tp[t[i]] += pr[t[i]];
    sy[t[i]] += 1;
  });
  return { tp, sp, sy };
}

/** A Dice-type loss in the published convention: 1 - score per class, mean over classes. */
function paperOverlap(
  p: Problem,
  score: (tp: number, sp: number, sy: number) => number,
  classes: "present" | "all",
): number {
  const { tp, sp, sy } = paperSums(p);
  const losses: number[] = [];
  for (let k = 0; k < tp.length; k++) {
    if (classes === "all" || sy[k] > 0) losses.push(1 - score(tp[k], sp[k], sy[k]));
  }
  return mean(losses);
}

export function paperDice(p: Problem, s = 1e-5, classes: "present" | "all" = "present"): number {
  return paperOverlap(p, (tp, sp, sy) => (2 * tp + s) / (sp + sy + s), classes);
}

export function paperJaccard(p: Problem, s = 1e-5, classes: "present" | "all" = "present"): number {
  return paperOverlap(p, (tp, sp, sy) => (tp + s) / (sp + sy - tp + s), classes);
}

export function paperTversky(p: Problem, a: number, b: number, s = 1e-5): number {
  return paperOverlap(
    p,
    (tp, sp, sy) => (tp + s) / (tp + a * (sp - tp) + b * (sy - tp) + s),
    "present",
  );
}

/**
 * Generalized Dice as published, over sequences (each a list of positions of `p`): the
 * mask applied before the softmax over classes, w_bc = 1 / (count_bc + 1e-10)^2 in float32,
 * -2 (Σ_c w I + s) / (Σ_c w U + s) per sequence, then the mean over sequences.
 */
export function paperGeneralizedDice(
  p: Problem,
  sequences: number[][],
  s = 1e-5,
  power = 2,
): number {
  const { z, t } = multiplied(p);
  const c = z[0].length;
  const f = Math.fround;
  return mean(sequences.map((rows) => {
    const count = new Array(c).fill(0), inter = new Array(c).fill(0);
    const predicted = new Array(c).fill(0);
    for (const i of rows) {
      const net = softmax(z[i]);
      for (let k = 0; k < c; k++) predicted[k] += net[k];
      inter[t[i]] += net[t[i]];
      count[t[i]] += 1;
    }
    // float32: (count + 1e-10) ** power, then 1 / that.
    const w = count.map((n) => {
      const base = f(n + f(1e-10));
      return f(1 / (power === 2 ? f(base * base) : base));
    });
    let num = 0, den = 0;
    for (let k = 0; k < c; k++) {
      num += w[k] * inter[k];
      den += w[k] * (predicted[k] + count[k]);
    }
    return -2 * (num + s) / (den + s);
  }));
}

/** The Lovász weights of ground truth sorted by decreasing error, in float32. */
function lovaszGrad32(fg: number[]): number[] {
  const f = Math.fround;
  const gts = fg.reduce((a, b) => a + b, 0);
  let cumFg = 0, cumBg = 0;
  const jac = fg.map((y) => {
    cumFg += y;
    cumBg += 1 - y;
    const intersection = f(gts - cumFg), union = f(gts + cumBg);
    return f(1 - f(intersection / union));
  });
  return jac.map((j, k) => (k === 0 ? j : f(j - jac[k - 1])));
}

/**
 * Lovász-Softmax as published: softmax over the raw logits, then the probabilities and the
 * labels multiplied by the mask; per class (present ones only, unless "all") the errors
 * |fg - p_c| over every position sorted in decreasing order, dotted with the float32
 * weights; the mean over those classes.
 */
export function paperLovaszSoftmax(p: Problem, classes: "present" | "all" = "present"): number {
  const m = keepMask(p);
  const probs = p.logits.map((z, i) => softmax(z).map((v) => v * m[i]));
  const labels = p.targets.map((t, i) => t * m[i]);
  const losses: number[] = [];
  for (let c = 0; c < probs[0].length; c++) {
    const fg = labels.map((l): number => (l === c ? 1 : 0));
    if (classes === "present" && fg.reduce((a, b) => a + b, 0) === 0) continue;
    const errors = fg.map((y, i) => Math.abs(y - probs[i][c]));
    const perm = errors.map((_, i) => i).sort((a, b) => errors[b] - errors[a]);
    const g = lovaszGrad32(perm.map((i) => fg[i]));
    losses.push(perm.reduce((acc, i, k) => acc + errors[i] * g[k], 0));
  }
  return mean(losses);
}

/** The float64 Lovász weights of sorted ground truth (the hinge is not in the published code). */
function lovaszGrad(fg: number[]): number[] {
  const gts = fg.reduce((a, b) => a + b, 0);
  let cumFg = 0, cumBg = 0;
  const jac = fg.map((y) => {
    cumFg += y;
    cumBg += 1 - y;
    return 1 - (gts - cumFg) / (gts + cumBg);
  });
  return jac.map((j, k) => (k === 0 ? j : j - jac[k - 1]));
}

/**
 * The hinge in the published convention, per sequence: logits and labels multiplied by
 * the mask (kept[b][i]), errors 1 - z s sorted in decreasing order, relu(errors) dotted with
 * the Lovász weights; the mean over sequences.
 */
export function paperLovaszHinge(logits: number[][], targets: number[][]): number {
  return mean(logits.map((row, b) => {
    const m = targets[b].map((t) => (t === -100 ? 0 : 1));
    const z = row.map((v, i) => v * m[i]);
    const y = targets[b].map((t, i) => t * m[i]);
    const errors = z.map((v, i) => 1 - v * (2 * y[i] - 1));
    const perm = errors.map((_, i) => i).sort((a, c) => errors[c] - errors[a]);
    const g = lovaszGrad(perm.map((i) => y[i]));
    return perm.reduce((acc, i, k) => acc + Math.max(errors[i], 0) * g[k], 0);
  }));
}

/**
 * The published trainer's answer window, in our shifted coordinates: rows [B][T] of targets
 * and the index of each row's first answer target; keeps positions s <= t < T - 1 with
 * s = the earliest of them, and sets a row's positions before its own answer start to -100.
 * Returns the windowed targets [B][W] and, per row, the positions t they came from.
 */
export function trainerSlice(
  targets: number[][],
  answerStarts: number[],
): { targets: number[][]; positions: number[] } {
  const T = targets[0].length;
  const s = Math.min(...answerStarts);
  const positions: number[] = [];
  for (let t = s; t < T - 1; t++) positions.push(t);
  return {
    targets: targets.map((row, b) => positions.map((t) => (t < answerStarts[b] ? -100 : row[t]))),
    positions,
  };
}

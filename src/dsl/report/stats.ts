/**
 * The statistics behind a comparison of losses: the Wilson interval of a proportion, the exact
 * McNemar test of two models answering the same problems, a paired bootstrap over seeds and
 * problems, and Holm's correction for many comparisons. Pure functions of plain numbers.
 *
 * @module
 */

import { rng } from "../../autograd/rng.ts";

/**
 * A point estimate with an interval around it.
 *
 * @example
 * ```ts
 * import { type Interval, wilsonInterval } from "@lossforge/core";
 * const i: Interval = wilsonInterval(31, 100);
 * console.log(i.estimate, i.lo.toFixed(3), i.hi.toFixed(3)); // 0.31 "0.228" "0.406"
 * ```
 */
export interface Interval {
  /** The point estimate. */
  estimate: number;
  /** The interval's lower end. */
  lo: number;
  /** The interval's upper end. */
  hi: number;
}

/**
 * The standard normal quantile: `normalQuantile(0.975)` is 1.959963984540054. Acklam's rational
 * approximation refined by one Halley step (relative error below 1e-15).
 *
 * @example
 * ```ts
 * import { normalQuantile } from "@lossforge/core";
 * console.log(normalQuantile(0.975).toFixed(6)); // "1.959964"
 * ```
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269];
  const a2 = [-30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972];
  const b2 = -13.28068155288572;
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838];
  const c2 = [-2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) =>
    (((((c[0] * q + c[1]) * q + c[2]) * q + c2[0]) * q + c2[1]) * q + c2[2]) /
    ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  let x: number;
  if (p < 0.02425) x = tail(Math.sqrt(-2 * Math.log(p)));
  else if (p > 1 - 0.02425) x = -tail(Math.sqrt(-2 * Math.log(1 - p)));
  else {
    const q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a2[0]) * r + a2[1]) * q /
      (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b2) * r + 1);
  }
  // One Halley step against the complementary error function brings it to full precision.
  const e = 0.5 * erfc(-x / Math.SQRT2) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

/**
 * The complementary error function near double precision: erf's Taylor series below 2 (where
 * it converges fast), the continued fraction of erfc above (where the series would cancel).
 */
function erfc(x: number): number {
  const ax = Math.abs(x);
  let r: number;
  if (ax < 2) {
    // erf by its Taylor series: sum (-1)^n x^(2n+1) / (n! (2n+1)), converges fast for |x| < 2.
    let term = ax, sum = ax;
    for (let n = 1; n < 80; n++) {
      term *= -ax * ax / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    r = 1 - (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // Lentz's continued fraction for erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + ...))).
    let f = ax, C = ax, D = 0;
    for (let n = 1; n < 200; n++) {
      const an = n / 2;
      D = ax + an * D;
      D = D === 0 ? 1e-300 : 1 / D;
      C = ax + an / C;
      const delta = C * D;
      f *= delta;
      if (Math.abs(delta - 1) < 1e-16) break;
    }
    r = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? 2 - r : r;
}

function checkConfidence(op: string, confidence: number): void {
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`${op}: confidence must be in (0, 1), got ${confidence}`);
  }
}

/**
 * The Wilson score interval of a proportion `successes / n` at `confidence` (default 0.95).
 * Unlike the normal ("Wald") interval it stays inside [0, 1] and is not empty at 0 or n
 * successes. With `n = 0` it is [0, 1] around NaN.
 *
 * @example
 * ```ts
 * import { wilsonInterval } from "@lossforge/core";
 * const { lo, hi } = wilsonInterval(27, 100);
 * console.log(`27% [${(100 * lo).toFixed(1)}%, ${(100 * hi).toFixed(1)}%]`); // 27% [19.3%, 36.4%]
 * ```
 */
export function wilsonInterval(successes: number, n: number, confidence = 0.95): Interval {
  if (!(Number.isInteger(n) && n >= 0)) {
    throw new RangeError(`wilsonInterval: n must be an integer >= 0, got ${n}`);
  }
  if (!(Number.isInteger(successes) && successes >= 0 && successes <= n)) {
    throw new RangeError(
      `wilsonInterval: successes must be an integer in [0, n = ${n}], got ${successes}`,
    );
  }
  checkConfidence("wilsonInterval", confidence);
  if (n === 0) return { estimate: NaN, lo: 0, hi: 1 };
  const z = normalQuantile(1 - (1 - confidence) / 2), z2 = z * z;
  const p = successes / n;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  // At 0 or n successes the closed form's end is the proportion itself, up to rounding.
  return {
    estimate: p,
    lo: successes === 0 ? 0 : Math.max(0, Math.min(p, center - half)),
    hi: successes === n ? 1 : Math.min(1, Math.max(p, center + half)),
  };
}

/**
 * The exact two-sided McNemar p-value for two classifiers on the same items, from the
 * discordant counts: `b` items only the first got right, `c` only the second. Under the null
 * hypothesis each discordant item goes either way with probability 1/2, so the p-value is
 * `min(1, 2 P(X <= min(b, c)))` for `X ~ Binomial(b + c, 1/2)`. Summed in log space, so it
 * is exact to rounding for any `b + c` (no factorial overflows). 1 when `b = c` or both are 0.
 *
 * @example
 * ```ts
 * import { mcnemarExact } from "@lossforge/core";
 * console.log(mcnemarExact(2, 10).toFixed(4)); // "0.0386"
 * console.log(mcnemarExact(5, 5)); // 1
 * ```
 */
export function mcnemarExact(b: number, c: number): number {
  for (const [name, v] of [["b", b], ["c", c]] as const) {
    if (!(Number.isInteger(v) && v >= 0)) {
      throw new RangeError(`mcnemarExact: ${name} must be an integer >= 0, got ${v}`);
    }
  }
  const n = b + c, k = Math.min(b, c);
  if (n === 0 || b === c) return 1;
  // log C(n, i) by the recurrence C(n, i) = C(n, i - 1) (n - i + 1) / i, then log-sum-exp.
  const logs: number[] = [0];
  for (let i = 1; i <= k; i++) logs.push(logs[i - 1] + Math.log((n - i + 1) / i));
  const top = logs[k];
  let sum = 0;
  for (const l of logs) sum += Math.exp(l - top);
  const logTail = top + Math.log(sum) - n * Math.LN2;
  return Math.min(1, 2 * Math.exp(logTail));
}

/**
 * Holm's step-down adjustment of p-values for many comparisons at once: the adjusted values
 * keep the family-wise error rate (the chance of any false "significant") at the level they
 * are compared to. Same order as the input.
 *
 * @example
 * ```ts
 * import { holm } from "@lossforge/core";
 * console.log(holm([0.01, 0.04, 0.03])); // [0.03, 0.06, 0.06]
 * ```
 */
export function holm(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => [p, i] as const).sort((x, y) => x[0] - y[0]);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach(([p, i], rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    out[i] = running;
  });
  return out;
}

/**
 * Options of {@linkcode pairedBootstrap}.
 *
 * @example
 * ```ts
 * import { type BootstrapOptions, pairedBootstrap } from "@lossforge/core";
 * const o: BootstrapOptions = { resamples: 5000, seed: 7, confidence: 0.9 };
 * console.log(pairedBootstrap([[1, 0, 1, 1]], o).estimate); // 0.75
 * ```
 */
export interface BootstrapOptions {
  /** Bootstrap replicates (default 2000). */
  resamples?: number;
  /** The resampling generator's seed (default 0): the same seed gives the same interval. */
  seed?: number;
  /** The interval's coverage (default 0.95). */
  confidence?: number;
  /** Resample the seeds too, when there are several (default true). */
  resampleSeeds?: boolean;
}

/**
 * A percentile bootstrap interval of the mean of `cells[seed][problem]` over seeds and
 * problems. Pass 0/1 correctness for a model's exact match, or the differences
 * `correct(loss) - correct(baseline)` of the same problems for a paired comparison.
 *
 * Every seed answers the same problems, so a replicate draws one set of problem indices (with
 * replacement) and uses it in every seed, which keeps a hard problem hard in all of them; with
 * several seeds it also draws the seeds with replacement, so the interval covers both the
 * problems' sampling and the training noise the seeds show. The estimate is the plain mean.
 *
 * @example
 * ```ts
 * import { pairedBootstrap } from "@lossforge/core";
 * // Two seeds, five problems, each cell 1 when the problem was answered right.
 * const i = pairedBootstrap([[1, 0, 1, 1, 0], [1, 1, 1, 0, 0]], { seed: 1 });
 * console.log(i.estimate, i.lo <= i.estimate && i.estimate <= i.hi); // 0.6 true
 * ```
 */
export function pairedBootstrap(
  cells: readonly (readonly number[])[],
  options: BootstrapOptions = {},
): Interval {
  const { resamples = 2000, seed = 0, confidence = 0.95, resampleSeeds = true } = options;
  checkConfidence("pairedBootstrap", confidence);
  if (!(Number.isInteger(resamples) && resamples >= 1)) {
    throw new RangeError(`pairedBootstrap: resamples must be an integer >= 1, got ${resamples}`);
  }
  const S = cells.length, n = cells[0]?.length ?? 0;
  if (S === 0 || n === 0) {
    throw new RangeError(
      `pairedBootstrap: need at least one seed and one problem, got ${S} seed(s), ${n} problem(s)`,
    );
  }
  cells.forEach((row, s) => {
    if (row.length !== n) {
      throw new RangeError(
        `pairedBootstrap: every seed needs the same problems; seed ${s} has ${row.length}, ` +
          `seed 0 has ${n}`,
      );
    }
  });
  let total = 0;
  for (const row of cells) for (const x of row) total += x;
  const estimate = total / (S * n);
  const r = rng(seed);
  const counts = new Float64Array(n);
  const seedCounts = new Float64Array(S);
  const reps = new Float64Array(resamples);
  for (let k = 0; k < resamples; k++) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[r.int(n)]++;
    seedCounts.fill(S > 1 && resampleSeeds ? 0 : 1);
    if (S > 1 && resampleSeeds) { for (let s = 0; s < S; s++) seedCounts[r.int(S)]++; }
    let sum = 0;
    for (let s = 0; s < S; s++) {
      if (seedCounts[s] === 0) continue;
      const row = cells[s];
      let rs = 0;
      for (let i = 0; i < n; i++) if (counts[i] !== 0) rs += counts[i] * row[i];
      sum += seedCounts[s] * rs;
    }
    reps[k] = sum / (S * n);
  }
  reps.sort();
  const alpha = (1 - confidence) / 2;
  return { estimate, lo: quantile(reps, alpha), hi: quantile(reps, 1 - alpha) };
}

/** The `q` quantile of sorted values, interpolated linearly (numpy's default, R's type 7). */
function quantile(sorted: Float64Array, q: number): number {
  const h = (sorted.length - 1) * q, i = Math.floor(h);
  return i + 1 < sorted.length ? sorted[i] + (h - i) * (sorted[i + 1] - sorted[i]) : sorted[i];
}

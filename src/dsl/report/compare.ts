/**
 * A sweep's rows as a comparison: the rows grouped by every axis but `seed`, each group's
 * mean metric with an interval, and each loss against a baseline loss as a paired difference
 * (same problems, same seeds) with its interval and McNemar's exact test per seed. One
 * function over a `SweepTable`, so a table merged from several machines gets the same numbers.
 *
 * @module
 */

import { show } from "../../util/show.ts";
import { holm, type Interval, mcnemarExact, pairedBootstrap, wilsonInterval } from "./stats.ts";
import type { SweepRow, SweepTable } from "./table.ts";

/**
 * Options of {@linkcode compareRows}.
 *
 * @example
 * ```ts
 * import { type CompareOptions, compareRows } from "@lossforge/core";
 * const o: CompareOptions = { baseline: "ce", resamples: 5000, seed: 1 };
 * console.log(compareRows({ axes: ["loss", "seed"], rows: [] }, o).groups); // []
 * ```
 */
export interface CompareOptions {
  /** The axis whose values are compared (default `"loss"`). */
  axis?: string;
  /** The baseline's label on that axis (default `"ce"` when a row has it, else the first). */
  baseline?: string;
  /** The metric (default the one the rows' per-problem results are of, else exactMatch). */
  metric?: string;
  /** Bootstrap replicates (default 2000). */
  resamples?: number;
  /** The bootstrap's seed (default 0): the same table gives the same intervals. */
  seed?: number;
  /** The intervals' coverage (default 0.95). */
  confidence?: number;
}

/**
 * How a group's interval was made: `"bootstrap"` over seeds and problems (several seeds),
 * `"wilson"` from the problems alone (one seed, or several that agree on every problem, where a
 * bootstrap would give a zero-width interval), or `"none"` (no per-problem results).
 *
 * @example
 * ```ts
 * import type { IntervalMethod } from "@lossforge/core";
 * const m: IntervalMethod = "wilson";
 * console.log(m);
 * ```
 */
export type IntervalMethod = "bootstrap" | "wilson" | "none";

/**
 * One McNemar test: the same problems answered by a loss and the baseline under one seed.
 *
 * @example
 * ```ts
 * import { mcnemarExact, type SeedTest } from "@lossforge/core";
 * const t: SeedTest = { seed: "42", b: 3, c: 9, p: mcnemarExact(3, 9), holm: 0.29 };
 * console.log(t.p.toFixed(3)); // "0.146"
 * ```
 */
export interface SeedTest {
  /** The seed's label (`""` when the table has no seed axis). */
  seed: string;
  /** Problems only this loss answered right. */
  b: number;
  /** Problems only the baseline answered right. */
  c: number;
  /** The exact two-sided p-value. */
  p: number;
  /** `p` adjusted with Holm's method over every test of the comparison. */
  holm: number;
}

/**
 * A loss against the baseline: the paired difference of the metric and the tests per seed.
 *
 * @example
 * ```ts
 * import type { VersusBaseline } from "@lossforge/core";
 * const v: VersusBaseline = {
 *   baseline: "ce",
 *   seeds: 1,
 *   problems: 100,
 *   difference: { estimate: -0.04, lo: -0.12, hi: 0.04 },
 *   excludesZero: false,
 *   tests: [],
 * };
 * console.log(v.excludesZero ? "differs" : "no clear difference");
 * ```
 */
export interface VersusBaseline {
  /** The baseline group's label. */
  baseline: string;
  /** Seeds both groups have. */
  seeds: number;
  /** Problems both answered under every one of those seeds. */
  problems: number;
  /** This loss's metric minus the baseline's, with its paired bootstrap interval. */
  difference: Interval;
  /** Whether the interval leaves out zero. */
  excludesZero: boolean;
  /** McNemar's test per seed. */
  tests: SeedTest[];
}

/**
 * One group of rows (every axis but `seed` the same): its metric over seeds and problems.
 *
 * @example
 * ```ts
 * import { compareRows, type GroupSummary } from "@lossforge/core";
 * const groups: GroupSummary[] = compareRows({ axes: ["loss"], rows: [] }).groups;
 * for (const g of groups) console.log(g.label, g.mean, g.interval.lo, g.interval.hi);
 * ```
 */
export interface GroupSummary {
  /** The group's label: its axis labels but the seed's (`"focal"`, `"loss=focal model=s"`). */
  label: string;
  /** Its axis labels, seed left out. */
  variant: Record<string, string>;
  /** Its rows' seed labels, in table order. */
  seeds: string[];
  /** Problems scored under every seed (0 without per-problem results). */
  problems: number;
  /** The metric's mean over the seeds (and so over their problems). */
  mean: number;
  /** The interval of `mean`, and how it was made. */
  interval: Interval & { method: IntervalMethod };
  /** The metric under each seed. */
  perSeed: { seed: string; value: number }[];
  /** The comparison with the baseline (absent for the baseline itself and when unpaired). */
  versus?: VersusBaseline;
}

/**
 * The comparison of a table's groups.
 *
 * @example
 * ```ts
 * import { type Comparison, compareRows } from "@lossforge/core";
 * const c: Comparison = compareRows({ axes: ["loss"], rows: [] });
 * console.log(c.metric, c.confidence, c.baseline); // "exactMatch" 0.95 undefined
 * ```
 */
export interface Comparison {
  /** The axis compared. */
  axis: string;
  /** The baseline's label on it (undefined when the table has no such axis). */
  baseline?: string;
  /** The metric compared. */
  metric: string;
  /** The intervals' coverage. */
  confidence: number;
  /** Bootstrap replicates. */
  resamples: number;
  /** The bootstrap's seed. */
  seed: number;
  /** One per group, in table order. */
  groups: GroupSummary[];
}

interface Group {
  key: string;
  label: string;
  variant: Record<string, string>;
  rows: SweepRow[];
}

/**
 * Groups `table`'s finished rows by every axis but `seed` and compares them: each group's
 * mean metric with a 95% interval (a paired bootstrap over seeds and problems with several
 * seeds, the Wilson interval of the problems with one), and for each loss against the
 * baseline loss (same values on the other axes) the paired difference, its bootstrap interval,
 * whether that leaves out zero, and McNemar's exact test per seed (Holm-adjusted too). Rows
 * pair by their seed label and problems by id, so only what both runs scored is compared.
 *
 * @example
 * ```ts
 * import { compareRows, type SweepRow } from "@lossforge/core";
 * const row = (loss: string, correct: boolean[]): SweepRow => ({
 *   label: loss,
 *   variant: { loss },
 *   metrics: { exactMatch: correct.filter(Boolean).length / correct.length },
 *   loss: 1,
 *   steps: 10,
 *   trainSeconds: 1,
 *   tokensPerSecond: 1,
 *   skipped: 0,
 *   curve: [],
 *   problems: { metric: "exactMatch", ids: correct.map((_, i) => `${i}`), correct },
 * });
 * const c = compareRows({
 *   axes: ["loss"],
 *   rows: [row("ce", [true, true, false, false]), row("focal", [true, false, false, false])],
 * });
 * console.log(c.groups[1].versus?.difference.estimate, c.groups[1].versus?.tests[0].p); // -0.25 1
 * ```
 */
export function compareRows(table: SweepTable, options: CompareOptions = {}): Comparison {
  const { axis = "loss", resamples = 2000, seed = 0, confidence = 0.95 } = options;
  const rows = table.rows.filter((r) => !r.error);
  const metric = options.metric ?? rows.find((r) => r.problems)?.problems?.metric ??
    "exactMatch";
  const others = table.axes.filter((a) => a !== "seed");
  const groups = new Map<string, Group>();
  for (const r of rows) {
    const variant = Object.fromEntries(others.map((a) => [a, r.variant[a] ?? ""]));
    const key = JSON.stringify(others.map((a) => variant[a]));
    const label = others.length === 0
      ? r.label.replace(/ ?seed=\S+/, "") || r.label
      : others.length === 1
      ? variant[others[0]]
      : others.map((a) => `${a}=${variant[a]}`).join(" ");
    const g = groups.get(key) ?? { key, label, variant, rows: [] };
    g.rows.push(r);
    groups.set(key, g);
  }
  const hasAxis = table.axes.includes(axis);
  const baseline = !hasAxis ? undefined : options.baseline ??
    (rows.some((r) => r.variant[axis] === "ce") ? "ce" : rows[0]?.variant[axis]);
  if (
    hasAxis && options.baseline !== undefined && !rows.some((r) => r.variant[axis] === baseline)
  ) {
    throw new RangeError(
      `compareRows: baseline ${show(baseline)} is no ${axis} of the table; its ${axis} labels: ` +
        [...new Set(rows.map((r) => r.variant[axis]))].map((x) => show(x)).join(", "),
    );
  }
  const boot = { resamples, seed, confidence };
  const summaries = [...groups.values()].map((g) => summarise(g, metric, boot));
  if (baseline !== undefined) {
    for (const [i, g] of [...groups.values()].entries()) {
      if (g.variant[axis] === baseline) continue;
      const key = JSON.stringify(others.map((a) => (a === axis ? baseline : g.variant[a])));
      const base = groups.get(key);
      if (base) summaries[i].versus = versus(g, base, metric, boot);
    }
    // Holm over every McNemar test the comparison makes.
    const tests = summaries.flatMap((s) => s.versus?.tests ?? []);
    holm(tests.map((t) => t.p)).forEach((p, i) => tests[i].holm = p);
  }
  return { axis, baseline, metric, confidence, resamples, seed, groups: summaries };
}

const seedOf = (r: SweepRow) => r.variant.seed ?? "";

/** Each row's per-problem correctness under `metric`, by id (undefined when it has none). */
function correctById(r: SweepRow, metric: string): Map<string, number> | undefined {
  if (!r.problems || r.problems.metric !== metric) return undefined;
  const { ids, correct } = r.problems;
  return new Map(ids.map((id, i) => [id, correct[i] ? 1 : 0]));
}

/** The ids every map has, in the first one's order. */
function commonIds(maps: readonly Map<string, number>[]): string[] {
  return [...(maps[0]?.keys() ?? [])].filter((id) => maps.every((m) => m.has(id)));
}

function summarise(
  g: Group,
  metric: string,
  boot: { resamples: number; seed: number; confidence: number },
): GroupSummary {
  const perSeed = g.rows.map((r) => ({ seed: seedOf(r), value: r.metrics[metric] ?? NaN }));
  const maps = g.rows.map((r) => correctById(r, metric));
  const base = { label: g.label, variant: g.variant, seeds: perSeed.map((s) => s.seed), perSeed };
  if (maps.some((m) => m === undefined)) {
    const mean = perSeed.reduce((a, s) => a + s.value, 0) / perSeed.length;
    // Without per-problem results one seed still has its count: the Wilson interval needs no
    // more (a table written before the problems were kept, or by a custom evaluator).
    const count = g.rows[0].metrics.count;
    if (g.rows.length === 1 && Number.isInteger(count) && count > 0 && mean >= 0 && mean <= 1) {
      const w = wilsonInterval(Math.round(mean * count), count, boot.confidence);
      return {
        ...base,
        problems: count,
        mean,
        interval: { ...w, estimate: mean, method: "wilson" },
      };
    }
    return {
      ...base,
      problems: 0,
      mean,
      interval: { estimate: mean, lo: NaN, hi: NaN, method: "none" },
    };
  }
  const ids = commonIds(maps as Map<string, number>[]);
  const cells = (maps as Map<string, number>[]).map((m) => ids.map((id) => m.get(id)!));
  if (ids.length === 0) {
    return {
      ...base,
      problems: 0,
      mean: NaN,
      interval: { estimate: NaN, lo: NaN, hi: NaN, method: "none" },
    };
  }
  // Every seed alike on every problem (all right or all wrong, say) leaves the bootstrap
  // nothing to resample: its interval would have zero width. The problems' Wilson interval
  // still says how few they were.
  const first = cells[0][0];
  const uniform = (first === 0 || first === 1) &&
    cells.every((row) => row.every((x) => x === first));
  if (cells.length === 1 || uniform) {
    const right = cells[0].reduce((a, x) => a + x, 0);
    const w = wilsonInterval(right, ids.length, boot.confidence);
    return {
      ...base,
      problems: ids.length,
      mean: w.estimate,
      interval: { ...w, method: "wilson" },
    };
  }
  const b = pairedBootstrap(cells, boot);
  return {
    ...base,
    problems: ids.length,
    mean: b.estimate,
    interval: { ...b, method: "bootstrap" },
  };
}

function versus(
  g: Group,
  base: Group,
  metric: string,
  boot: { resamples: number; seed: number; confidence: number },
): VersusBaseline | undefined {
  const pairs = g.rows.flatMap((r) => {
    const other = base.rows.find((o) => seedOf(o) === seedOf(r));
    const a = correctById(r, metric), b = other && correctById(other, metric);
    return a && b ? [{ seed: seedOf(r), a, b }] : [];
  });
  if (pairs.length === 0) return undefined;
  const ids = commonIds(pairs.flatMap((p) => [p.a, p.b]));
  if (ids.length === 0) return undefined;
  const tests: SeedTest[] = pairs.map(({ seed, a, b }) => {
    let only = 0, onlyBase = 0;
    for (const id of ids) {
      const x = a.get(id)!, y = b.get(id)!;
      if (x > y) only++;
      else if (y > x) onlyBase++;
    }
    const p = mcnemarExact(only, onlyBase);
    return { seed, b: only, c: onlyBase, p, holm: p };
  });
  const difference = pairedBootstrap(
    pairs.map(({ a, b }) => ids.map((id) => a.get(id)! - b.get(id)!)),
    boot,
  );
  return {
    baseline: base.label,
    seeds: pairs.length,
    problems: ids.length,
    difference,
    excludesZero: difference.lo > 0 || difference.hi < 0,
    tests,
  };
}

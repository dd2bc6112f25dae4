/**
 * Writing a sweep's table for people and programs: `results.md` (a Markdown table),
 * `results.csv` (RFC 4180 quoting) and `results.json`, each written atomically. A layout
 * puts a heading and the run's settings above the table and picks its columns.
 *
 * @module
 */

import { writeFileAtomic } from "../../util/atomic.ts";
import { type CompareOptions, compareRows, type Comparison } from "./compare.ts";
import type { SweepRow, SweepTable } from "./table.ts";

/**
 * The metric columns of a table: every metric any row has, `exactMatch` first.
 *
 * @example
 * ```ts
 * import { metricColumns, pipeline, sweep } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const scored = pipeline({ ...base, eval: { kind: "exactMatch", options: { maxNewTokens: 8 } } });
 * const table = await sweep(scored, { loss: ["ce", "focal"] });
 * console.log(metricColumns(table));
 * // ["exactMatch", "dice", "extra", "iou", "missing", "precision", "recall"]
 * ```
 */
export function metricColumns(table: SweepTable): string[] {
  const seen = new Set<string>();
  for (const r of table.rows) for (const k of Object.keys(r.metrics)) seen.add(k);
  return [...seen].filter((k) => k !== "count").sort((a, b) =>
    a === "exactMatch" ? -1 : b === "exactMatch" ? 1 : a.localeCompare(b)
  );
}

/**
 * How a report reads. The `"full"` style (default) has every axis, the final loss, every
 * metric to 4 digits, steps, seconds, tokens/s and status, and results.json holds the rows as
 * `sweep` returns them. The `"summary"` style is the table a paper shows: the run's label,
 * each metric (exact match as a percentage), the final train loss, the train time and
 * tokens/s; its results.json rows are flat (`{ ...variant, label, exactMatch, iou, finalLoss,
 * steps, trainSeconds, tokensPerSecond, curve }`).
 *
 * @example
 * ```ts
 * import { type ReportLayout, toMarkdown } from "@lossforge/core";
 * const layout: ReportLayout = {
 *   heading: "GSM8K: cross-entropy vs segmentation losses",
 *   about: { backend: "cpu", steps: 700, seed: 42 },
 *   style: "summary",
 *   metrics: ["exactMatch", "iou"],
 * };
 * // "# GSM8K: ...", "- backend: cpu", ..., then the table's header
 * console.log(toMarkdown({ axes: ["loss"], rows: [] }, layout));
 * ```
 */
export interface ReportLayout {
  /** results.md's heading (a `#` line above everything else). */
  heading?: string;
  /**
   * The run's settings (date, backend, data, model, steps, ...): a list under results.md's
   * heading (objects as JSON), and keys of results.json beside `rows`.
   */
  about?: Readonly<Record<string, unknown>>;
  /** The table's columns (default `"full"`). */
  style?: "full" | "summary";
  /** The metrics shown, in order (default: every metric a row has, `exactMatch` first). */
  metrics?: readonly string[];
  /**
   * The comparison below the table and in results.json (`compareRows`: each loss's mean and
   * interval, its paired difference from the baseline and McNemar's test per seed), drawn
   * when a row has per-problem results. Its options pick the baseline and metric; `false`
   * leaves it out.
   */
  compare?: CompareOptions | false;
}

/** How the summary style heads and writes the metrics the library's evaluators report. */
const METRIC_CELLS: Record<string, { header: string; cell: (x: number) => string }> = {
  exactMatch: { header: "exact match", cell: (x) => `${(100 * x).toFixed(1)}%` },
  iou: { header: "step IoU", cell: (x) => x.toFixed(3) },
  dice: { header: "step Dice", cell: (x) => x.toFixed(3) },
};

function metricsOf(table: SweepTable, layout: ReportLayout): readonly string[] {
  return layout.metrics ?? metricColumns(table);
}

/** A summary row's cells; a missing number is NaN, as in the row's JSON (null). */
function summaryCells(r: SweepRow, metrics: readonly string[]): string[] {
  return [
    r.label,
    ...metrics.map((m) =>
      (METRIC_CELLS[m]?.cell ?? ((x: number) => x.toFixed(3)))(r.metrics[m] ?? NaN)
    ),
    r.loss.toFixed(3),
    `${r.trainSeconds.toFixed(0)} s`,
    r.tokensPerSecond.toFixed(0),
  ];
}

function summaryMarkdown(table: SweepTable, metrics: readonly string[]): string {
  const esc = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");
  const head = [
    table.axes.join(", ") || "run",
    ...metrics.map((m) => METRIC_CELLS[m]?.header ?? m),
    "final train loss",
    "train time",
    "tokens/s",
  ];
  return [
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
    ...table.rows.map((r) => `| ${summaryCells(r, metrics).map(esc).join(" | ")} |`),
  ].join("\n") + "\n";
}

/** A row of the summary's results.json: the axis labels, the label, then the figures. */
function summaryRow(r: SweepRow, metrics: readonly string[]): Record<string, unknown> {
  return {
    ...r.variant,
    label: r.label,
    ...Object.fromEntries(metrics.map((m) => [m, r.metrics[m] ?? NaN])),
    finalLoss: r.loss,
    steps: r.steps,
    trainSeconds: r.trainSeconds,
    tokensPerSecond: r.tokensPerSecond,
    curve: r.curve,
    ...(r.problems ? { problems: r.problems } : {}),
  };
}

function cells(table: SweepTable, r: SweepRow, metrics: string[]): string[] {
  const num = (x: number | undefined, digits: number) =>
    x === undefined ? "" : Number.isFinite(x) ? x.toFixed(digits) : String(x);
  return [
    ...table.axes.map((a) => r.variant[a] ?? ""),
    num(r.loss, 4),
    ...metrics.map((m) => num(r.metrics[m], 4)),
    String(r.steps),
    num(r.trainSeconds, 1),
    num(r.tokensPerSecond, 0),
    r.error ? "error" : r.skipped ? `skipped ${r.skipped}` : "ok",
  ];
}

function header(table: SweepTable, metrics: string[]): string[] {
  return [...table.axes, "final loss", ...metrics, "steps", "train s", "tokens/s", "status"];
}

/**
 * The table as Markdown (`|` in labels escaped), under the layout's heading and settings.
 *
 * @example
 * ```ts
 * import { pipeline, sweep, toMarkdown } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * console.log(toMarkdown(await sweep(base, { loss: ["ce", "focal"] })));
 * // | loss | final loss | steps | train s | tokens/s | status |
 * // | --- | ---: | ---: | ---: | ---: | ---: |
 * // | ce | 5.4741 | 4 | 0.1 | 17507 | ok |     (seconds and tokens/s vary by machine)
 * // | focal | 5.4281 | 4 | 0.1 | 10567 | ok |
 * ```
 */
export function toMarkdown(table: SweepTable, layout: ReportLayout = {}): string {
  const body = layout.style === "summary"
    ? summaryMarkdown(table, metricsOf(table, layout))
    : fullMarkdown(table, [...metricsOf(table, layout)]);
  const about = Object.entries(layout.about ?? {}).map(([k, v]) =>
    `- ${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`
  );
  const c = comparisonOf(table, layout);
  return [
    ...(layout.heading === undefined ? [] : [`# ${layout.heading}\n\n`]),
    ...(about.length ? [`${about.join("\n")}\n\n`] : []),
    body,
    ...(c ? [`\n${comparisonMarkdown(c)}`] : []),
  ].join("");
}

/**
 * The layout's comparison of the table, when it asks for one and a row has problems.
 *
 * @example
 * ```ts
 * import { comparisonOf } from "./report.ts";
 * console.log(comparisonOf({ axes: ["loss"], rows: [] }, {})); // undefined: nothing to compare
 * ```
 */
export function comparisonOf(table: SweepTable, layout: ReportLayout): Comparison | undefined {
  if (layout.compare === false || !table.rows.some((r) => r.problems && !r.error)) return;
  // A report writes md, json and intervals.svg from one table: bootstrap it once, not thrice.
  const options = layout.compare ?? NO_OPTIONS;
  const seen = COMPARED.get(table);
  if (
    seen?.rows === table.rows && seen.count === table.rows.length && seen.options === options
  ) return seen.comparison;
  const comparison = compareRows(table, options);
  COMPARED.set(table, { rows: table.rows, count: table.rows.length, options, comparison });
  return comparison;
}

const NO_OPTIONS = {};
const COMPARED = new WeakMap<
  SweepTable,
  { rows: readonly unknown[]; count: number; options: object; comparison: Comparison }
>();

/** Metrics that are shares of problems, written as percentages (differences as points). */
const SHARES = new Set(["exactMatch", "accuracy"]);

/**
 * A comparison as Markdown: a table with each group's mean and interval, its difference from
 * the baseline with that interval (`*` when it leaves out zero) and McNemar's p per seed
 * (Holm-adjusted in brackets), then a note on how the numbers were made.
 *
 * @example
 * ```ts
 * import { compareRows, comparisonMarkdown } from "@lossforge/core";
 * console.log(comparisonMarkdown(compareRows({ axes: ["loss"], rows: [] })));
 * // "## Comparison: exactMatch, 95% intervals" and an empty table
 * ```
 */
export function comparisonMarkdown(c: Comparison): string {
  const share = SHARES.has(c.metric);
  const value = (x: number) =>
    !Number.isFinite(x) ? "" : share ? `${(100 * x).toFixed(1)}%` : x.toFixed(3);
  const signed = (x: number) => {
    if (!Number.isFinite(x)) return "";
    return `${x > 0 ? "+" : ""}${share ? (100 * x).toFixed(1) : x.toFixed(3)}`;
  };
  const diff = (x: number) => signed(x) + (share && Number.isFinite(x) ? " pts" : "");
  const range = (lo: number, hi: number, f: (x: number) => string) =>
    Number.isFinite(lo) && Number.isFinite(hi) ? `[${f(lo)}, ${f(hi)}]` : "";
  const pct = `${Math.round(100 * c.confidence)}%`;
  const esc = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");
  const head = [
    Object.keys(c.groups[0]?.variant ?? {}).join(", ") || "run",
    "seeds",
    "problems",
    c.metric === "exactMatch" ? "exact match" : c.metric,
    `${pct} interval`,
    `vs ${c.baseline ?? "baseline"}`,
    `${pct} interval`,
    "McNemar p per seed (Holm)",
  ];
  const lines = c.groups.map((g) => {
    const v = g.versus;
    const tests = v?.tests.map((t) =>
      `${t.seed ? `${t.seed}: ` : ""}${fmtP(t.p)} (${fmtP(t.holm)})`
    ).join("; ") ?? "";
    return [
      g.label,
      String(g.seeds.length),
      String(g.problems),
      value(g.mean),
      range(g.interval.lo, g.interval.hi, value) +
      (g.interval.method === "none" ? "" : ` ${g.interval.method}`),
      v ? `${diff(v.difference.estimate)}${v.excludesZero ? " *" : ""}` : "",
      v ? range(v.difference.lo, v.difference.hi, signed) : "",
      tests,
    ];
  });
  const tests = c.groups.reduce((n, g) => n + (g.versus?.tests.length ?? 0), 0);
  return [
    `## Comparison: ${c.metric}, ${pct} intervals\n`,
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => (i === 0 || i === 4 || i >= 6 ? "---" : "---:")).join("|")}|`,
    ...lines.map((l) => `| ${l.map(esc).join(" | ")} |`),
    "",
    `Intervals: with several seeds a paired bootstrap over seeds and problems ` +
    `(${c.resamples} resamples, seed ${c.seed}), with one seed (or seeds that agree on every ` +
    `problem) the Wilson interval of the problems. The difference pairs each problem under the same seed; * marks one whose ` +
    `interval leaves out zero. McNemar's exact test per seed; in brackets Holm-adjusted over ` +
    `the ${tests} test(s), the unbracketed values are not corrected for multiple comparisons.`,
  ].join("\n") + "\n";
}

function fmtP(p: number): string {
  return p >= 0.001 ? p.toFixed(3) : p.toExponential(1);
}

function fullMarkdown(table: SweepTable, metrics: string[]): string {
  const esc = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");
  const head = header(table, metrics);
  const lines = [
    `| ${head.map(esc).join(" | ")} |`,
    `| ${head.map((_, i) => (i < table.axes.length ? "---" : "---:")).join(" | ")} |`,
    ...table.rows.map((r) => `| ${cells(table, r, metrics).map(esc).join(" | ")} |`),
  ];
  const errors = table.rows.filter((r) => r.error).map((r) => `- ${esc(r.label)}: ${r.error}`);
  return lines.join("\n") + "\n" + (errors.length ? `\nFailed runs:\n${errors.join("\n")}\n` : "");
}

/**
 * The table as CSV (fields with commas, quotes or newlines quoted, quotes doubled). It is for
 * programs, so it always has the full style's columns (the layout picks only the metrics).
 *
 * @example
 * ```ts
 * import { pipeline, sweep, toCsv } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * await Deno.writeTextFile("seeds.csv", toCsv(await sweep(base, { seed: [1, 2, 3] })));
 * // seed,final loss,steps,train s,tokens/s,status
 * // 1,5.4765,4,0.1,12600,ok
 * // 2,5.4666,4,0.1,12600,ok
 * // 3,5.4498,4,0.1,14300,ok
 * ```
 */
export function toCsv(table: SweepTable, layout: ReportLayout = {}): string {
  const metrics = [...metricsOf(table, layout)];
  return csvLines([header(table, metrics), ...table.rows.map((r) => cells(table, r, metrics))]);
}

function csvLines(rows: string[][]): string {
  const q = (s: string) => /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  return rows.map((r) => r.map(q).join(",")).join("\n") + "\n";
}

/**
 * The table as JSON text: the layout's settings beside the rows (flat rows in the summary
 * style). Non-finite numbers are strings in the full style (JSON has none) and null in the
 * summary's rows.
 *
 * @example
 * ```ts
 * import { toJson } from "@lossforge/core";
 * console.log(toJson({ axes: ["loss"], rows: [] }, { about: { seed: 42 } }));
 * // {"seed": 42, "axes": ["loss"], "rows": []} (indented)
 * ```
 */
export function toJson(table: SweepTable, layout: ReportLayout = {}): string {
  if (layout.style === "summary") {
    const metrics = metricsOf(table, layout);
    const rows = table.rows.map((r) => summaryRow(r, metrics));
    const c = comparisonOf(table, layout);
    return JSON.stringify({ ...layout.about, rows, ...(c ? { comparison: c } : {}) }, null, 2) +
      "\n";
  }
  const c = comparisonOf(table, layout);
  return JSON.stringify(
    { ...layout.about, ...table, ...(c ? { comparison: c } : {}) },
    (_k, v) => typeof v === "number" && !Number.isFinite(v) ? String(v) : v,
    2,
  ) + "\n";
}

/**
 * Writes `results.md`, `results.csv` and `results.json` into `dir` (in the layout's style)
 * and returns their paths.
 *
 * @example
 * ```ts
 * import { pipeline, report, sweep } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const table = await sweep(base, { loss: ["ce", "focal", "dice"] });
 * // Report only the runs that finished, next to the sweep's own files.
 * const ok = { ...table, rows: table.rows.filter((r) => !r.error) };
 * const files = await report(ok, "runs/finished");
 * console.log(files.markdown); // "runs/finished/results.md"
 * ```
 */
export async function report(
  table: SweepTable,
  dir: string,
  layout: ReportLayout = {},
): Promise<{ markdown: string; csv: string; json: string }> {
  await Deno.mkdir(dir, { recursive: true });
  const base = dir.replace(/[\\/]+$/, "");
  const out = {
    markdown: `${base}/results.md`,
    csv: `${base}/results.csv`,
    json: `${base}/results.json`,
  };
  await writeFileAtomic(out.markdown, toMarkdown(table, layout));
  await writeFileAtomic(out.csv, toCsv(table, layout));
  await writeFileAtomic(out.json, toJson(table, layout));
  return out;
}

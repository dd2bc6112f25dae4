/**
 * Writing a sweep's table for people and programs: `results.md` (a Markdown table),
 * `results.csv` (RFC 4180 quoting) and `results.json`, each written atomically.
 *
 * @module
 */

import { writeFileAtomic } from "../run/atomic.ts";
import type { SweepRow, SweepTable } from "./sweep.ts";

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
 * The table as Markdown (`|` in labels escaped).
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
export function toMarkdown(table: SweepTable): string {
  const metrics = metricColumns(table);
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
 * The table as CSV (fields with commas, quotes or newlines quoted, quotes doubled).
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
export function toCsv(table: SweepTable): string {
  const metrics = metricColumns(table);
  const q = (s: string) => /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  const rows = [header(table, metrics), ...table.rows.map((r) => cells(table, r, metrics))];
  return rows.map((r) => r.map(q).join(",")).join("\n") + "\n";
}

/**
 * Writes `results.md`, `results.csv` and `results.json` into `dir` and returns their paths.
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
): Promise<{ markdown: string; csv: string; json: string }> {
  await Deno.mkdir(dir, { recursive: true });
  const base = dir.replace(/[\\/]+$/, "");
  const out = {
    markdown: `${base}/results.md`,
    csv: `${base}/results.csv`,
    json: `${base}/results.json`,
  };
  await writeFileAtomic(out.markdown, toMarkdown(table));
  await writeFileAtomic(out.csv, toCsv(table));
  await writeFileAtomic(
    out.json,
    JSON.stringify(
      table,
      (_k, v) => typeof v === "number" && !Number.isFinite(v) ? String(v) : v,
      2,
    ) +
      "\n",
  );
  return out;
}

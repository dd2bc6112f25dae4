/**
 * Merging variants that ran apart (array tasks, pods, several machines) into the table a
 * sweep run in one place writes: each variant's `result.json` is read by the code a sweep's
 * resume reads it with, and the report is written by the sweep's own report writer, so the
 * tables are the same.
 *
 * @module
 */

import { type PlannedVariant, readPlan, type SweepPlan } from "./plan.ts";
import { readRow, type SweepReportOptions, writeReport } from "./sweep.ts";
import type { SweepRow, SweepTable } from "./table.ts";

/**
 * Options of {@linkcode mergeResults}.
 *
 * @example
 * ```ts
 * import { type MergeOptions, mergeResults } from "@lossforge/core";
 * // Both clusters' output roots into one report in runs/all.
 * const options: MergeOptions = { out: "runs/all", report: { style: "summary" } };
 * const merged = await mergeResults(["runs/a", "runs/b"], options);
 * console.log(merged.table.rows.length, merged.missing.length);
 * ```
 */
export interface MergeOptions {
  /** Where results.md, .csv, .json and curves.svg go (default: the first folder). */
  out?: string;
  /** The report's layout (default: the plan's); `false` writes nothing. */
  report?: boolean | Omit<SweepReportOptions, "write">;
}

/**
 * What a merge found: the table of the finished variants, the planned ones that are not, and
 * the result files that could not be read.
 *
 * @example
 * ```ts
 * import { mergeResults } from "@lossforge/core";
 * const { missing, problems } = await mergeResults(["runs/grid"]);
 * for (const v of missing) console.log(`missing ${v.index}: ${v.label}`);
 * for (const p of problems) console.log(`${p.path}: ${p.message}`);
 * ```
 */
export interface MergeResult {
  /** One row per finished variant, in the plan's order. */
  table: SweepTable;
  /** Planned variants without a readable result, by index. */
  missing: PlannedVariant[];
  /** Result files that exist but could not be used, by path. */
  problems: { path: string; message: string }[];
  /** Where the report was written (none when `report: false` or nothing had finished). */
  out?: string;
}

/**
 * Gathers the finished variants under `dirs` into one table and writes its report. Each
 * folder is an output root holding a `plan.json` (a plan's folder, or where its jobs wrote:
 * they copy it there), whose variants are looked for in `<dir>/<folder>/result.json`; several
 * roots (one per cluster) complete each other, the first folder's result winning. A folder
 * without a plan is read as a sweep's `out`: every sub-folder with a result.json is a row, and
 * none can be known to be missing.
 *
 * @example
 * ```ts
 * import { mergeResults } from "@lossforge/core";
 * const merged = await mergeResults(["runs/grid"]);
 * console.log(merged.out, merged.table.rows.map((r) => r.label));
 * if (merged.missing.length) console.log("rerun:", merged.missing.map((v) => v.index));
 * ```
 */
export async function mergeResults(
  dirs: readonly string[],
  options: MergeOptions = {},
): Promise<MergeResult> {
  if (dirs.length === 0) throw new Error("mergeResults: give at least one folder");
  const roots = dirs.map((d) => d.replace(/[\\/]+$/, "") || ".");
  const plans = await Promise.all(roots.map(readPlan));
  const problems: MergeResult["problems"] = [];
  const read = async (path: string, label?: string): Promise<SweepRow | undefined> => {
    try {
      const row = await readRow(path);
      if (row && label !== undefined && row.label !== label) {
        problems.push({ path, message: `holds variant "${row.label}", expected "${label}"` });
        return undefined;
      }
      return row;
    } catch (e) {
      problems.push({ path, message: `cannot be read: ${(e as Error).message}` });
      return undefined;
    }
  };

  const planned = unionOfPlans(plans);
  const rows = new Map<string, SweepRow>();
  for (const [i, root] of roots.entries()) {
    const plan = plans[i];
    if (plan) {
      for (const v of plan.variants) {
        if (rows.has(v.label)) continue;
        const row = await read(`${root}/${v.folder}/result.json`, v.label);
        if (row) rows.set(v.label, row);
      }
    } else {
      const found: SweepRow[] = [];
      for (const path of await resultFiles(root)) {
        const row = await read(path);
        if (row) found.push(row);
      }
      // In the order the sweep's own results.json has them, when it is there to say.
      const prior = await tableOrder(`${root}/results.json`);
      // Labels it lacks (-1 as unsigned: the largest) go last.
      const rank = (r: SweepRow) => prior.indexOf(r.label) >>> 0;
      for (const row of found.sort((a, b) => rank(a) - rank(b))) {
        if (!rows.has(row.label)) rows.set(row.label, row);
      }
    }
  }
  // The plan's order first; rows only plain sweep folders had follow in the order found.
  const order = [...planned.map((v) => v.label), ...rows.keys()];
  const labels = [...new Set(order)].filter((l) => rows.has(l));
  const axes = plans.find((p) => p)?.axes ??
    [...new Set([...rows.values()].flatMap((r) => Object.keys(r.variant)))];
  const table: SweepTable = { axes, rows: labels.map((l) => rows.get(l)!) };
  const missing = planned.filter((v) => !rows.has(v.label));

  const planReport = plans.find((p) => p)?.report;
  const layout = options.report === false
    ? undefined
    : options.report === true || options.report === undefined
    ? planReport || {}
    : options.report;
  const out = options.out ?? roots[0];
  if (layout && table.rows.length > 0) {
    await writeReport(table, out, layout);
    return { table, missing, problems, out };
  }
  return { table, missing, problems };
}

/** Every planned variant of the plans, by label, numbered as the first plan numbers them. */
function unionOfPlans(plans: readonly (SweepPlan | undefined)[]): PlannedVariant[] {
  const seen = new Map<string, PlannedVariant>();
  for (const p of plans) {
    for (const v of p?.variants ?? []) if (!seen.has(v.label)) seen.set(v.label, v);
  }
  return [...seen.values()];
}

/** The `<sub-folder>/result.json` files of a sweep's `out`, by sub-folder name. */
async function resultFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  for await (const e of Deno.readDir(root)) {
    if (!e.isDirectory) continue;
    const path = `${root}/${e.name}/result.json`;
    try {
      await Deno.stat(path);
      found.push(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return found.sort();
}

/** The labels of a results.json's rows, in order; none when it is absent or unreadable. */
async function tableOrder(path: string): Promise<string[]> {
  try {
    const rows = JSON.parse(await Deno.readTextFile(path)).rows;
    return Array.isArray(rows) ? rows.map((r) => String(r?.label)) : [];
  } catch {
    return [];
  }
}

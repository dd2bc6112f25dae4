/**
 * Sweeps: one call trains every combination of the given variants (losses, seeds, models,
 * optimizers) of a base pipeline and returns a table, one row per run, ready for `report`
 * and `plotCurves`.
 *
 * @module
 */

import { treeDispose } from "../../autograd/mod.ts";
import { NonFiniteLossError } from "../spec/errors.ts";
import type { TrainEvent } from "../run/events.ts";
import { type Pipeline, pipeline, type PipelineSpec } from "../spec/pipeline.ts";
import { train } from "../run/train.ts";
import type { LossLike, ModelLike, OptimizerLike, PartSpec } from "../spec/types.ts";

/**
 * The axes of a sweep. Each is a list of values (labelled automatically from their specs)
 * or an object mapping labels to values.
 *
 * @example
 * ```ts
 * import type { SweepAxes } from "./sweep.ts";
 * const axes: SweepAxes = {
 *   loss: { ce: "ce", "ce+lovasz": { kind: "combine", options: { terms: [["ce", 0.6], ["lovasz", 0.4, { mask: "answer" }]] } } },
 *   seed: [1, 2, 3],
 * };
 * console.log(Object.keys(axes));
 * ```
 */
export interface SweepAxes {
  /** Losses to compare. */
  loss?: SweepAxis<LossLike | PartSpec | string>;
  /** Seeds to repeat each variant with. */
  seed?: SweepAxis<number>;
  /** Models to compare. */
  model?: SweepAxis<ModelLike | PartSpec>;
  /** Optimizers to compare. */
  optimizer?: SweepAxis<OptimizerLike | PartSpec>;
}

/**
 * One axis: values, or labelled values.
 *
 * @example
 * ```ts
 * import type { SweepAxis } from "./sweep.ts";
 * const a: SweepAxis<number> = { small: 1, large: 2 };
 * console.log(a);
 * ```
 */
export type SweepAxis<T> = readonly T[] | Readonly<Record<string, T>>;

/**
 * One run of a sweep.
 *
 * @example
 * ```ts
 * import type { SweepRow } from "./sweep.ts";
 * const line = (r: SweepRow) => `${r.label}: ${r.metrics.exactMatch ?? "-"} in ${r.trainSeconds}s`;
 * console.log(typeof line);
 * ```
 */
export interface SweepRow {
  /** The variant's label, e.g. `"loss=ce seed=1"`. */
  label: string;
  /** The label of each swept axis, e.g. `{ loss: "ce", seed: "1" }`. */
  variant: Record<string, string>;
  /** The final evaluation (empty without an evaluator or when the run failed). */
  metrics: Record<string, number>;
  /** The last logged training loss. */
  loss: number;
  /** Steps done. */
  steps: number;
  /** Seconds spent training (evaluation included). */
  trainSeconds: number;
  /** Mean tokens per second. */
  tokensPerSecond: number;
  /** Steps skipped for a non-finite loss. */
  skipped: number;
  /** The loss curve (one point per log event). */
  curve: { step: number; loss: number }[];
  /** Why the run failed, if it did (a NaN loss, for example); the sweep goes on. */
  error?: string;
}

/**
 * A sweep's results.
 *
 * @example
 * ```ts
 * import type { SweepTable } from "./sweep.ts";
 * const best = (t: SweepTable) => t.rows.toSorted((a, b) => a.loss - b.loss)[0]?.label;
 * console.log(typeof best);
 * ```
 */
export interface SweepTable {
  /** The axes swept, in order. */
  axes: string[];
  /** One row per run, in the order run. */
  rows: SweepRow[];
}

/**
 * Options of {@linkcode sweep}.
 *
 * @example
 * ```ts
 * import type { SweepOptions } from "./sweep.ts";
 * const o: SweepOptions = { out: "runs/sweep", progress: false };
 * console.log(o.out);
 * ```
 */
export interface SweepOptions {
  /** A folder for the runs: each run's files go to `out/<label>`. */
  out?: string;
  /** Every event of every run, with its label. */
  onEvent?: (label: string, event: TrainEvent) => void;
  /** Show progress (default on). */
  progress?: boolean;
  /** Where progress text goes (default stdout). */
  progressWrite?: (text: string) => void;
  /** Stops after the current run. */
  signal?: AbortSignal;
}

/**
 * A short label for a part: its spec's kind (combined losses as `0.6*ce+0.4*lovasz@answer`),
 * else its function name.
 *
 * @example
 * ```ts
 * import { labelOf } from "./sweep.ts";
 * console.log(labelOf({ kind: "combine", options: { terms: [["ce", 0.6], ["focal", 0.4]] } })); // "0.6*ce+0.4*focal"
 * ```
 */
export function labelOf(value: unknown): string {
  if (typeof value === "string" || typeof value === "number") return String(value);
  const spec = (value as { spec?: PartSpec })?.spec ??
    (value && typeof value === "object" && "kind" in value ? value as PartSpec : undefined);
  if (spec?.kind === "combine" && Array.isArray(spec.options?.terms)) {
    return (spec.options.terms as unknown[][]).map(([loss, w, o]) =>
      `${w}*${labelOf(loss)}${(o as { mask?: string })?.mask === "answer" ? "@answer" : ""}`
    ).join("+");
  }
  if (spec) return spec.kind;
  const name = (value as { name?: string })?.name;
  return name || "?";
}

function entries<T>(axis: SweepAxis<T>): [string, T][] {
  return Array.isArray(axis)
    ? (axis as readonly T[]).map((v) => [labelOf(v), v])
    : Object.entries(axis as Record<string, T>);
}

/**
 * Trains every combination of `axes` over `base` (one after another, each with its own
 * label as the pipeline name) and returns the table. A run that fails (e.g. a NaN loss)
 * gets a row with `error` and the sweep continues.
 *
 * @example
 * ```ts
 * import { report, sweep, type Pipeline } from "../mod.ts";
 * const compare = async (base: Pipeline) => {
 *   const table = await sweep(base, { loss: ["ce", "focal", "lovasz"], seed: [1, 2] });
 *   await report(table, "runs/compare");
 * };
 * console.log(typeof compare);
 * ```
 */
export async function sweep(
  base: Pipeline,
  axes: SweepAxes,
  options: SweepOptions = {},
): Promise<SweepTable> {
  const names = (Object.keys(axes) as (keyof SweepAxes)[]).filter((k) => axes[k] !== undefined);
  let combos: { label: Record<string, string>; spec: Partial<PipelineSpec> }[] = [
    { label: {}, spec: {} },
  ];
  for (const name of names) {
    const next: typeof combos = [];
    for (const c of combos) {
      for (const [label, value] of entries(axes[name] as SweepAxis<unknown>)) {
        next.push({ label: { ...c.label, [name]: label }, spec: { ...c.spec, [name]: value } });
      }
    }
    combos = next;
  }
  // Validate every variant before the first one trains: a typo should not cost a run.
  const variants = combos.map((c) => {
    const label = names.map((n) => `${n}=${c.label[n]}`).join(" ") || base.name;
    return { label, axisLabels: c.label, p: pipeline({ ...base, ...c.spec, name: label }) };
  });
  const rows: SweepRow[] = [];
  for (const v of variants) {
    if (options.signal?.aborted) break;
    const started = performance.now();
    const slug = v.label.replace(/[^A-Za-z0-9._=+@-]+/g, "_");
    try {
      const r = await train(v.p, {
        out: options.out ? `${options.out}/${slug}` : undefined,
        progress: options.progress ?? true,
        progressWrite: options.progressWrite,
        onEvent: options.onEvent ? (e) => options.onEvent!(v.label, e) : undefined,
        signal: options.signal,
      });
      treeDispose(r.params);
      treeDispose(r.optState);
      rows.push({
        label: v.label,
        variant: v.axisLabels,
        metrics: r.eval ?? {},
        loss: r.loss,
        steps: r.steps,
        trainSeconds: (performance.now() - started) / 1000,
        tokensPerSecond: r.tokensPerSecond,
        skipped: r.skipped,
        curve: r.curve,
      });
    } catch (e) {
      if (!(e instanceof NonFiniteLossError)) throw e;
      rows.push({
        label: v.label,
        variant: v.axisLabels,
        metrics: {},
        loss: e.loss,
        steps: e.step,
        trainSeconds: (performance.now() - started) / 1000,
        tokensPerSecond: 0,
        skipped: 0,
        curve: [],
        error: e.message,
      });
    }
  }
  return { axes: names, rows };
}

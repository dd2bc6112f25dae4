/**
 * What a sweep gives back: one row per finished run, and the table of them. Its own file so
 * that `sweep` (which writes reports) and `report` (which reads tables) share the types
 * without importing each other.
 *
 * @module
 */

import type { StopSignal } from "../run/stop_signals.ts";
import type { ProblemResults } from "../spec/types.ts";

/**
 * One run of a sweep.
 *
 * @example
 * ```ts
 * import { pipeline, sweep, type SweepRow } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const rows: SweepRow[] = (await sweep(base, { loss: ["ce", "focal"] })).rows;
 * for (const r of rows) console.log(r.label, r.variant, r.loss.toFixed(4), r.error ?? "ok");
 * // "loss=ce" { loss: "ce" } "5.4741" "ok"
 * // "loss=focal" { loss: "focal" } "5.4281" "ok"
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
  /**
   * Which held-out problems the final evaluation got right (with their ids), when the
   * evaluator tells: what `compareRows` pairs across losses and seeds.
   */
  problems?: ProblemResults;
}

/**
 * A sweep's results.
 *
 * @example
 * ```ts
 * import { pipeline, sweep, type SweepTable } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const table: SweepTable = await sweep(base, { loss: ["ce", "focal"] });
 * console.log(table.axes, table.stopped); // ["loss"] "completed"
 * console.log(table.rows.toSorted((a, b) => a.loss - b.loss)[0].label); // "loss=focal"
 * ```
 */
export interface SweepTable {
  /** The axes swept, in order. */
  axes: string[];
  /** One row per finished variant, in the order of the axes' combinations. */
  rows: SweepRow[];
  /** `"interrupted"` when a signal stopped the sweep before every variant finished. */
  stopped?: "completed" | "interrupted";
  /** The signal that stopped the sweep, when one did. */
  signal?: StopSignal;
}

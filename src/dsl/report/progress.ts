/**
 * Showing a run's progress: a redrawn bar (step, loss, tokens/s, ETA) on a terminal, one
 * plain line per log interval otherwise (CI logs, pipes). Colour only on a terminal and
 * never when NO_COLOR is set (https://no-color.org).
 *
 * @module
 */

import type { TrainEvent } from "../run/events.ts";

/**
 * Options of {@linkcode createProgress}.
 *
 * @example
 * ```ts
 * import { createProgress } from "@lossforge/core";
 * // Plain lines prefixed with the run's name, into a log instead of stdout.
 * const log: string[] = [];
 * const p = createProgress({ total: 100, tty: false, label: "ce", write: (t) => log.push(t) });
 * p.event({ step: 10, totalSteps: 100, loss: 2.5, lr: 1e-3, gradNorm: 1, tokensPerSecond: 900,
 *   elapsed: 1, epoch: 0, skipped: 0 });
 * console.log(log[0]); // "ce step 10/100  loss 2.5000  lr 1.00e-3  900 tok/s  1s  ETA 9s\n"
 * ```
 */
export interface ProgressOptions {
  /** Steps in the run. */
  total: number;
  /** Draw a bar (default: whether stdout is a terminal). */
  tty?: boolean;
  /** Use colour (default: tty and NO_COLOR unset). */
  color?: boolean;
  /** A prefix, e.g. the pipeline name. */
  label?: string;
  /** Where text goes (default stdout). */
  write?: (text: string) => void;
}

/**
 * A progress display: `tick` on every step (cheap, redraws at most 10 times a second),
 * `event` on every log event, `done` at the end.
 *
 * @example
 * ```ts
 * import { createProgress, type Progress } from "@lossforge/core";
 * const progress: Progress = createProgress({ total: 3 });
 * for (let step = 1; step <= 3; step++) {
 *   // ... one training step ...
 *   progress.tick(step, step * 0.5);
 * }
 * progress.message("evaluating");
 * progress.done();
 * ```
 */
export interface Progress {
  /** Step `step` finished. */
  tick(step: number, elapsed: number): void;
  /** A log event arrived. */
  event(e: TrainEvent): void;
  /** Prints a message above the bar. */
  message(text: string): void;
  /** Ends the display (leaves the last bar on screen). */
  done(): void;
}

function noColorSet(): boolean {
  try {
    return (Deno.env.get("NO_COLOR") ?? "") !== "";
  } catch {
    return false; // no --allow-env: assume colour is fine, as most terminals are
  }
}

/**
 * Seconds as `1h02m`, `3m07s` or `12s`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "@lossforge/core";
 * console.log(formatDuration(187), formatDuration(3720)); // "3m07s" "1h02m"
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  if (h) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m${String(r).padStart(2, "0")}s`;
  return `${r}s`;
}

/**
 * A rate as `950` or `12.3k`.
 *
 * @example
 * ```ts
 * import { formatRate } from "./progress.ts";
 * console.log(formatRate(12345)); // "12.3k"
 * ```
 */
export function formatRate(x: number): string {
  return x >= 1e4 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0);
}

/**
 * Makes a progress display for a run of `total` steps.
 *
 * @example
 * ```ts
 * import { createProgress } from "@lossforge/core";
 * const lines: string[] = [];
 * const p = createProgress({ total: 100, tty: false, write: (t) => lines.push(t) });
 * p.event({ step: 10, totalSteps: 100, loss: 2.5, lr: 1e-3, gradNorm: 1, tokensPerSecond: 900,
 *   elapsed: 1, epoch: 0, skipped: 0 });
 * console.log(lines[0]); // "step 10/100  loss 2.5000  lr 1.00e-3  900 tok/s  1s  ETA 9s\n"
 * ```
 */
export function createProgress(options: ProgressOptions): Progress {
  const write = options.write ?? ((t: string) => {
    Deno.stdout.writeSync(new TextEncoder().encode(t));
  });
  const tty = options.tty ?? Deno.stdout.isTerminal();
  const color = options.color ?? (tty && !noColorSet());
  const label = options.label ? `${options.label} ` : "";
  const total = options.total;
  let loss = NaN, tps = 0, lastDraw = 0, step = 0, elapsed = 0, drawn = false;
  const eta = () => step > 0 ? formatDuration((elapsed / step) * (total - step)) : "?";
  const paint = (code: string, text: string) => color ? `\x1b[${code}m${text}\x1b[0m` : text;

  const draw = () => {
    const width = 24, filled = Math.round((width * step) / Math.max(1, total));
    const bar = paint("32", "█".repeat(filled)) + paint("2", "░".repeat(width - filled));
    const l = Number.isFinite(loss) ? loss.toFixed(4) : String(loss);
    write(
      `\r\x1b[2K${label}${bar} ${step}/${total}  loss ${l}  ${formatRate(tps)} tok/s  ETA ${eta()}`,
    );
    drawn = true;
  };

  return {
    tick(s, e) {
      step = s;
      elapsed = e;
      if (!tty) return;
      const now = performance.now();
      if (now - lastDraw >= 100) {
        lastDraw = now;
        draw();
      }
    },
    event(e) {
      step = e.step;
      elapsed = e.elapsed;
      loss = e.loss;
      tps = e.tokensPerSecond;
      if (tty) {
        if (e.eval) this.message(`${label}step ${e.step} eval ${formatMetrics(e.eval)}`);
        draw();
        return;
      }
      const l = Number.isFinite(loss) ? loss.toFixed(4) : String(loss);
      const ev = e.eval ? `  eval ${formatMetrics(e.eval)}` : "";
      write(
        `${label}step ${e.step}/${total}  loss ${l}  lr ${e.lr.toExponential(2)}  ` +
          `${formatRate(tps)} tok/s  ${formatDuration(e.elapsed)}  ETA ${eta()}${ev}\n`,
      );
    },
    message(text) {
      write(tty && drawn ? `\r\x1b[2K${text}\n` : `${text}\n`);
      if (tty && drawn) draw();
    },
    done() {
      if (tty && drawn) write("\n");
    },
  };
}

/**
 * Metrics as `exactMatch 0.2500 count 40` (integers as they are, others to 4 decimals).
 *
 * @example
 * ```ts
 * import { formatMetrics } from "./progress.ts";
 * console.log(formatMetrics({ exactMatch: 0.25, count: 40 })); // "exactMatch 0.2500 count 40"
 * ```
 */
export function formatMetrics(m: Readonly<Record<string, number>>): string {
  return Object.entries(m).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`)
    .join(" ");
}

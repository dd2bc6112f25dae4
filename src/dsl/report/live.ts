/**
 * The live display of a sweep: on a terminal, one line per running variant (step, loss,
 * tokens/s, ETA) and a line with the whole sweep's ETA, redrawn in place at a steady rate;
 * elsewhere (CI logs, pipes, files) one plain line per log event.
 *
 * Training reports its loss only every `logEvery` steps, so between two events a running
 * line advances its step at the rate measured so far: the display moves steadily instead of
 * jumping once per log interval, and it never passes the run's last step.
 *
 * @module
 */

import type { TrainEvent } from "../run/events.ts";
import { formatDuration, formatMetrics, formatRate } from "./progress.ts";

/**
 * Options of {@linkcode createLiveDisplay}.
 *
 * @example
 * ```ts
 * import { createLiveDisplay } from "@lossforge/core";
 * // Plain lines collected in an array (a log file, a test) instead of redrawn in place.
 * const lines: string[] = [];
 * const live = createLiveDisplay({ write: (t) => lines.push(t), isTerminal: false });
 * live.add("ce", 100);
 * live.finish("ce", "ce: done");
 * live.close();
 * console.log(lines); // ["ce: done\n"]
 * ```
 */
export interface LiveDisplayOptions {
  /** Where text goes (for a terminal: stdout, ANSI codes included). */
  write: (text: string) => void;
  /** Redraw in place with cursor moves (a terminal), or print plain lines. */
  isTerminal: boolean;
  /** Milliseconds between redraws on a terminal (default 250; 0: only on events). */
  refreshMs?: number;
  /** The terminal's width: longer lines are cut, so redrawing stays in place (default 100). */
  columns?: number;
  /** The clock in milliseconds (default `performance.now`). */
  now?: () => number;
}

/**
 * A sweep's display: `add` each variant before the sweep starts, `start` it when it begins
 * training, feed it its `event`s, `finish` it; `close` at the end.
 *
 * @example
 * ```ts
 * import { createLiveDisplay, type LiveDisplay } from "@lossforge/core";
 * const live: LiveDisplay = createLiveDisplay({
 *   write: (t) => console.log(t.trimEnd()),
 *   isTerminal: false,
 * });
 * live.add("ce", 100);
 * live.start("ce");
 * live.event("ce", { step: 50, totalSteps: 100, loss: 2.87, lr: 3e-3, gradNorm: 1.2,
 *   tokensPerSecond: 1883, elapsed: 22, epoch: 0, skipped: 0 });
 * // "ce  step 50/100  loss 2.8700  1883 tok/s  ETA ...  (sweep ETA ...)"
 * live.finish("ce", "ce: done");
 * live.close();
 * ```
 */
export interface LiveDisplay {
  /** A variant the sweep will run (`totalSteps` when known beforehand). */
  add(label: string, totalSteps?: number): void;
  /** The variant began training, or resumed at step `fromStep` (default 0). */
  start(label: string, fromStep?: number): void;
  /** A log event of the variant. */
  event(label: string, e: TrainEvent): void;
  /** The variant ended; `text`, when given, stays on screen as a line of its own. */
  finish(label: string, text?: string): void;
  /** A line printed above the live lines. */
  message(text: string): void;
  /** Redraws the live lines now (terminal only; the timer does it on its own). */
  draw(): void;
  /** Stops the timer and leaves the last lines on screen. */
  close(): void;
}

interface Variant {
  label: string;
  total?: number;
  state: "queued" | "running" | "done";
  /** Step and clock when this session of the run started. */
  startStep: number;
  startedAt: number;
  step: number;
  eventAt: number;
  loss: number;
  tokensPerSecond: number;
}

/**
 * Makes a sweep's live display.
 *
 * @example
 * ```ts
 * import { createLiveDisplay } from "@lossforge/core";
 * const live = createLiveDisplay({
 *   write: (t) => Deno.stdout.writeSync(new TextEncoder().encode(t)),
 *   isTerminal: Deno.stdout.isTerminal(),
 * });
 * live.add("ce", 700);
 * live.start("ce");
 * live.close();
 * ```
 */
export function createLiveDisplay(options: LiveDisplayOptions): LiveDisplay {
  const { write, isTerminal } = options;
  const now = options.now ?? (() => performance.now());
  const columns = options.columns && options.columns > 10 ? options.columns : 100;
  const refreshMs = options.refreshMs ?? 250;
  const variants = new Map<string, Variant>();
  let width = 0, drawn = 0;
  let timer: ReturnType<typeof setInterval> | undefined;

  /** Milliseconds per step in this session, once an event has measured it. */
  const msPerStep = (v: Variant) =>
    v.step > v.startStep ? (v.eventAt - v.startedAt) / (v.step - v.startStep) : undefined;
  const estimatedStep = (v: Variant) => {
    const ms = msPerStep(v);
    if (ms === undefined || v.total === undefined) return v.step;
    return Math.min(v.total, v.step + Math.floor((now() - v.eventAt) / ms));
  };
  const variantEta = (v: Variant, step: number) => {
    const ms = msPerStep(v);
    return ms === undefined || v.total === undefined ? NaN : (ms * (v.total - step)) / 1000;
  };
  /** Steps left over the whole sweep divided by the running variants' combined rate. */
  const sweepEta = () => {
    let left = 0, perMs = 0, typical: number | undefined;
    for (const v of variants.values()) typical ??= v.total;
    for (const v of variants.values()) {
      if (v.state === "done") continue;
      const total = v.total ?? typical;
      if (total === undefined) return NaN;
      left += total - (v.state === "running" ? estimatedStep(v) : 0);
      const ms = v.state === "running" ? msPerStep(v) : undefined;
      if (ms) perMs += 1 / ms;
    }
    return perMs > 0 ? left / perMs / 1000 : NaN;
  };
  const cut = (s: string) => (s.length > columns - 1 ? s.slice(0, columns - 1) : s);
  const lossText = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));

  const liveLine = (v: Variant) => {
    const step = estimatedStep(v);
    const name = v.label.padEnd(width);
    const total = v.total ?? "?";
    if (msPerStep(v) === undefined) {
      const secs = formatDuration((now() - v.startedAt) / 1000);
      return `${name}  ${bar(step, v.total)} ${step}/${total}  starting (${secs})`;
    }
    const tail = v.total !== undefined && step >= v.total
      ? "finishing"
      : `ETA ${formatDuration(variantEta(v, step))}`;
    return `${name}  ${bar(step, v.total)} ${step}/${total}  loss ${lossText(v.loss)}  ` +
      `${formatRate(v.tokensPerSecond)} tok/s  ${tail}`;
  };
  const summaryLine = () => {
    const all = [...variants.values()];
    const done = all.filter((v) => v.state === "done").length;
    const running = all.filter((v) => v.state === "running").length;
    return `sweep: ${done}/${all.length} done, ${running} running  ETA ${
      formatDuration(sweepEta())
    }`;
  };
  const block = () =>
    [
      ...[...variants.values()].filter((v) => v.state === "running").map(liveLine),
      summaryLine(),
    ].map(cut);
  /** Erases the live lines, prints `above` (lines that stay), then the live lines again. */
  const repaint = (above: string[] = []) => {
    const lines = block();
    const up = drawn > 0 ? `\x1b[${drawn}F\x1b[J` : "";
    write(up + [...above.map(cut), ...lines].map((l) => `${l}\n`).join(""));
    drawn = lines.length;
  };
  const startTimer = () => {
    if (!isTerminal || refreshMs <= 0 || timer !== undefined) return;
    const t = setInterval(() => repaint(), refreshMs);
    // The display must not keep a finished program alive.
    Deno.unrefTimer(t);
    timer = t;
  };
  const get = (label: string) => {
    let v = variants.get(label);
    if (!v) {
      v = {
        label,
        state: "queued",
        startStep: 0,
        startedAt: now(),
        step: 0,
        eventAt: now(),
        loss: NaN,
        tokensPerSecond: 0,
      };
      variants.set(label, v);
      width = Math.min(28, Math.max(width, label.length));
    }
    return v;
  };

  return {
    add(label, totalSteps) {
      get(label).total = totalSteps;
    },
    start(label, fromStep = 0) {
      const v = get(label);
      v.state = "running";
      v.startedAt = v.eventAt = now();
      v.startStep = v.step = fromStep;
      if (isTerminal) {
        startTimer();
        repaint();
      }
    },
    event(label, e) {
      const v = get(label);
      v.total = e.totalSteps;
      v.step = e.step;
      v.eventAt = now();
      v.loss = e.loss;
      v.tokensPerSecond = e.tokensPerSecond;
      const evalText = e.eval ? `  eval ${formatMetrics(e.eval)}` : "";
      if (isTerminal) {
        repaint(e.eval ? [`${v.label} step ${e.step}:${evalText}`] : []);
        return;
      }
      const eta = formatDuration(variantEta(v, e.step));
      write(
        `${v.label.padEnd(width)}  step ${e.step}/${e.totalSteps}  loss ${lossText(e.loss)}  ` +
          `${formatRate(e.tokensPerSecond)} tok/s  ETA ${eta}  (sweep ETA ${
            formatDuration(sweepEta())
          })${evalText}\n`,
      );
    },
    finish(label, text) {
      get(label).state = "done";
      if (isTerminal) repaint(text ? [text] : []);
      else if (text) write(`${text}\n`);
    },
    message(text) {
      if (isTerminal && drawn > 0) repaint([text]);
      else write(`${text}\n`);
    },
    draw() {
      if (isTerminal) repaint();
    },
    close() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      if (isTerminal && drawn > 0) repaint();
    },
  };
}

function bar(step: number, total: number | undefined): string {
  const n = 12, filled = total ? Math.round((n * Math.min(step, total)) / total) : 0;
  return "█".repeat(filled) + "░".repeat(n - filled);
}

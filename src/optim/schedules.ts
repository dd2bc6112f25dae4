/**
 * Learning-rate schedules as plain functions of the step (0 on the first update).
 * @module
 */
import { ValueError } from "../autograd/mod.ts";
import type { Schedule } from "./types.ts";

/**
 * The same rate at every step.
 *
 * @example
 * ```ts
 * import { constant } from "@lossforge/core";
 * console.log(constant(1e-3)(500)); // 0.001
 * ```
 */
export function constant(lr: number): Schedule {
  return () => lr;
}

/**
 * Rises linearly from `start` (default 0) to `peak` over `warmup` steps, then stays.
 *
 * @example
 * ```ts
 * import { linearWarmup } from "@lossforge/core";
 * const s = linearWarmup({ peak: 1, warmup: 4 });
 * console.log(s(0), s(2), s(10)); // 0, 0.5, 1
 * ```
 */
export function linearWarmup(opts: { peak: number; warmup: number; start?: number }): Schedule {
  const start = opts.start ?? 0;
  if (opts.warmup < 0) {
    throw new ValueError(`linearWarmup: warmup must be >= 0, got ${opts.warmup}`);
  }
  return (step) =>
    step >= opts.warmup ? opts.peak : start + (opts.peak - start) * (step / opts.warmup);
}

/**
 * Cosine decay from `peak` to `end` (default 0) over `steps`, then `end`.
 *
 * @example
 * ```ts
 * import { cosine } from "@lossforge/core";
 * const s = cosine({ peak: 1, steps: 100 });
 * console.log(s(0), s(50), s(100)); // 1, 0.5, 0
 * ```
 */
export function cosine(opts: { peak: number; steps: number; end?: number }): Schedule {
  const end = opts.end ?? 0;
  if (opts.steps <= 0) throw new ValueError(`cosine: steps must be > 0, got ${opts.steps}`);
  return (step) => {
    const p = Math.min(Math.max(step / opts.steps, 0), 1);
    return end + (opts.peak - end) * 0.5 * (1 + Math.cos(Math.PI * p));
  };
}

/**
 * Linear warmup to `peak` over `warmup` steps, then cosine decay to `end` at `steps` (the
 * total, warmup included).
 *
 * @example
 * ```ts
 * import { warmupCosine } from "@lossforge/core";
 * const s = warmupCosine({ peak: 3e-4, warmup: 100, steps: 2000 });
 * console.log(s(50), s(100), s(2000)); // 1.5e-4, 3e-4, 0
 * ```
 */
export function warmupCosine(
  opts: { peak: number; warmup: number; steps: number; start?: number; end?: number },
): Schedule {
  if (opts.steps <= opts.warmup) {
    throw new ValueError(
      `warmupCosine: steps (${opts.steps}) must exceed warmup (${opts.warmup})`,
    );
  }
  const up = linearWarmup({ peak: opts.peak, warmup: opts.warmup, start: opts.start });
  const down = cosine({ peak: opts.peak, steps: opts.steps - opts.warmup, end: opts.end });
  return (step) => (step < opts.warmup ? up(step) : down(step - opts.warmup));
}

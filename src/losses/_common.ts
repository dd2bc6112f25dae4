/**
 * What every loss shares: the `LossFn` type, input checks, the counted positions M and
 * the masked reductions over them. Private to `src/losses`.
 * @module
 */
import {
  cast,
  DTypeError,
  eq,
  full,
  ge,
  lt,
  maximum,
  mul,
  ne,
  reshape,
  scatterAdd,
  ShapeError,
  sum,
  type Tensor,
  ValueError,
  where,
  zeros,
} from "../autograd/mod.ts";
import { sameShape } from "../autograd/shape.ts";
import { IGNORE_INDEX } from "../data/batch.ts";

/**
 * Options every loss function takes at call time.
 *
 * @example
 * ```ts
 * import { crossEntropy, type LossCallOptions, tensor } from "@lossforge/core";
 * const logits = tensor([[0, 0], [0, 2]]), targets = tensor([0, 1], { dtype: "int32" });
 * const promptOnly: LossCallOptions = { mask: tensor([1, 0]) }; // position 1 is left out
 * console.log(await crossEntropy()(logits, targets, promptOnly).item()); // log 2 ≈ 0.6931
 * ```
 */
export interface LossCallOptions {
  /** `[...]` like the targets: positions where it is 0 are ignored, non-zero ones count. */
  mask?: Tensor;
  /**
   * How ignored positions are treated in this call, overriding the loss's own `masking`
   * (`combine({ masking })` passes it to every term). See {@linkcode Masking}.
   */
  masking?: Masking;
  /**
   * `[...]` like the targets: the positions the loss sees at all. Positions where it is 0
   * are left out in both masking modes (as a slice would leave them out); inside it,
   * ignored positions are removed (`"exclude"`) or become zero rows (`"paper"`).
   * `combine` sets it to the published trainer's window for `mask: "answer"` terms in
   * `"paper"` mode.
   */
  window?: Tensor;
}

/**
 * How a loss treats ignored positions (target -100 or `mask` 0). `"exclude"` (default):
 * they are removed, adding nothing to any sum and not counting in any mean. `"paper"`:
 * what the code published with the paper computes: their logits and targets are multiplied
 * by zero, so each becomes a row of zero logits (a uniform softmax) with target class 0
 * that still counts in means and sums (each loss's JSDoc and docs/losses.md#paper say what
 * that means for it).
 *
 * @example
 * ```ts
 * import { focal, type Masking, tensor } from "@lossforge/core";
 * const logits = tensor([[0, 4], [4, 0]]), targets = tensor([1, -100], { dtype: "int32" });
 * const f = (masking: Masking) => focal({ masking })(logits, targets).item();
 * // "paper": the ignored row becomes [0, 0] with target 0 (p = 1/2) and counts in the mean.
 * console.log(await f("exclude"), await f("paper")); // ≈ 0.0000059 0.0866
 * ```
 */
export type Masking = "exclude" | "paper";

/**
 * The valid values of `masking`, for option parsers and help texts.
 *
 * @example
 * ```ts
 * import { MASKINGS } from "@lossforge/core";
 * console.log(MASKINGS.join("|")); // "exclude|paper"
 * ```
 */
export const MASKINGS: readonly Masking[] = ["exclude", "paper"];

/**
 * A loss: `(logits [..., C] float, targets [...] int32, options?) => scalar`. A target of
 * -100 (or the loss's `ignoreIndex`) ignores its position; `options.mask` ignores more.
 * Each LossFn carries a readable `name` (for example `"focal(gamma=2)"`).
 *
 * @example
 * ```ts
 * import { crossEntropy, focal, type LossFn, tensor } from "@lossforge/core";
 * const logits = tensor([[0, 0], [2, 0]]), targets = tensor([1, 0], { dtype: "int32" });
 * const report = async (loss: LossFn) => `${loss.name}: ${await loss(logits, targets).item()}`;
 * console.log(await report(crossEntropy())); // "crossEntropy: 0.41..."
 * console.log(await report(focal({ gamma: 2 }))); // "focal(gamma=2): 0.087..."
 * ```
 */
export type LossFn = (logits: Tensor, targets: Tensor, options?: LossCallOptions) => Tensor;

/**
 * How a per-position loss reduces over the counted positions: their `"mean"` (default),
 * their `"sum"`, or `"none"`: the per-position values, shaped like the targets, with 0 at
 * ignored positions.
 *
 * @example
 * ```ts
 * import { crossEntropy, type Reduction, tensor } from "@lossforge/core";
 * const logits = tensor([[0, 0], [0, 0], [0, 0]]);
 * const targets = tensor([1, 0, -100], { dtype: "int32" }); // the last position is ignored
 * const ce = (reduction: Reduction) => crossEntropy({ reduction })(logits, targets);
 * console.log(await ce("none").array()); // ≈ [0.6931, 0.6931, 0]
 * console.log(await ce("mean").item(), await ce("sum").item()); // ≈ 0.6931 1.3863
 * ```
 */
export type Reduction = "mean" | "sum" | "none";

/**
 * Options shared by every loss factory.
 *
 * @example
 * ```ts
 * import { type BaseLossOptions, crossEntropy, tensor } from "@lossforge/core";
 * const padIsMinusOne: BaseLossOptions = { ignoreIndex: -1 }; // a dataset that pads with -1
 * const logits = tensor([[0, 0], [9, 0]]), targets = tensor([1, -1], { dtype: "int32" });
 * console.log(await crossEntropy(padIsMinusOne)(logits, targets).item()); // log 2: one position
 * ```
 */
export interface BaseLossOptions {
  /** The target value that ignores a position (default -100). */
  ignoreIndex?: number;
  /**
   * `"exclude"` (default) removes ignored positions; `"paper"` reproduces the published
   * code, which multiplies them by zero ({@linkcode Masking}).
   */
  masking?: Masking;
}

// The default ignore value (-100, as in PyTorch) is the one `makeBatch` writes at padding.
export { IGNORE_INDEX };

/** Gives a loss function a readable `name` (function names are read-only otherwise). */
export function named<F extends (...args: never[]) => unknown>(name: string, fn: F): F {
  Object.defineProperty(fn, "name", { value: name, configurable: true });
  return fn;
}

/** The checked `masking` option of loss `loss` (default "exclude"). */
export function lossMasking(loss: string, options: BaseLossOptions): Masking {
  const masking = options.masking ?? "exclude";
  checkChoice(loss, "masking", masking, MASKINGS);
  return masking;
}

/** The masking of one call: the call's `masking` (checked) or the loss's own. */
export function callMasking(loss: string, own: Masking, opts: LossCallOptions): Masking {
  if (opts.masking === undefined) return own;
  checkChoice(loss, "masking", opts.masking, MASKINGS);
  return opts.masking;
}

/** `name` with `, paper` inside its parentheses (or `(paper)` appended) in paper mode. */
export function maskingName(name: string, masking: Masking): string {
  if (masking === "exclude") return name;
  return name.endsWith(")") ? `${name.slice(0, -1)}, paper)` : `${name}(paper)`;
}

/** `[2,3]` for messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

/** The multi-index of flat position `i` in `shape`, as `[1,2]`. */
function fmtIndex(i: number, shape: readonly number[]): string {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return fmtShape(idx);
}

/** Throws a ValueError naming `loss` and `field` unless `value` is finite, in [min, max]. */
export function checkNumber(
  loss: string,
  field: string,
  value: number,
  min = 0,
  max = Infinity,
): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    const range = max === Infinity ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new ValueError(`${loss}: ${field} must be a finite number ${range}, got ${value}`);
  }
}

/** The option names every loss factory takes: those of {@linkcode BaseLossOptions}. */
export const BASE_OPTION_NAMES: readonly string[] = ["ignoreIndex", "masking"];

/**
 * Throws a ValueError naming `loss`, each unknown option and the valid ones when `options`
 * has a key outside `valid`: a misspelt option (`focal({ gama: 2 })`) from JavaScript or a
 * config file would otherwise be ignored and the loss trained with its default.
 */
export function checkOptionNames(
  loss: string,
  options: unknown,
  valid: readonly string[],
): void {
  if (options === undefined) return;
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new ValueError(
      `${loss}: options must be an object, got ${
        Array.isArray(options) ? "an array" : JSON.stringify(options)
      }`,
    );
  }
  const unknown = Object.keys(options).filter((k) => !valid.includes(k));
  if (unknown.length === 0) return;
  const names = unknown.map((k) => JSON.stringify(k)).join(", ");
  throw new ValueError(
    `${loss}: unknown option${unknown.length > 1 ? "s" : ""} ${names}; valid options: ${
      [...valid].sort().join(", ")
    }`,
  );
}

/** Throws a ValueError naming `loss` and `field` unless `value` is one of `allowed`. */
export function checkChoice<T extends string>(
  loss: string,
  field: string,
  value: T,
  allowed: readonly T[],
): void {
  if (!allowed.includes(value)) {
    throw new ValueError(
      `${loss}: ${field} must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${
        JSON.stringify(value)
      }`,
    );
  }
}

/**
 * Reads int32 targets synchronously when they live on the CPU backend (its buffers are
 * typed arrays); null on other backends, whose reads are asynchronous.
 */
function cpuInts(t: Tensor): Int32Array | null {
  return t.backend.name === "cpu" ? (t.buf as Int32Array) : null;
}

/** Throws the out-of-range error for `value` at flat position `i`. */
function badTarget(
  loss: string,
  value: number,
  i: number,
  shape: readonly number[],
  classes: number,
  ignoreIndex: number,
  what?: string,
): never {
  throw new ValueError(
    `${loss}: target ${value} at position ${fmtIndex(i, shape)} is outside ${
      what ?? `[0, ${classes})`
    } (use ${ignoreIndex} to ignore a position)`,
  );
}

/**
 * Checks targets against `[0, classes)` (or `ignoreIndex`). Synchronous on the CPU backend;
 * elsewhere the data cannot be read without waiting, so the check is skipped and the
 * kernels treat an out-of-range target as ignored (see `validateTargets` for an explicit,
 * asynchronous check on any backend).
 */
export function checkTargetsSync(
  loss: string,
  targets: Tensor,
  classes: number,
  ignoreIndex: number,
  what?: string,
): void {
  const data = cpuInts(targets);
  if (!data) return;
  for (let i = 0; i < targets.size; i++) {
    const v = data[i];
    if (v !== ignoreIndex && !(v >= 0 && v < classes)) {
      badTarget(loss, v, i, targets.shape, classes, ignoreIndex, what);
    }
  }
}

/**
 * Checks that every target is a class id in `[0, classes)` or `ignoreIndex` (default
 * -100), on any backend (it reads the targets back, so on WebGPU it waits for the GPU).
 * The losses run this check themselves, synchronously, on the CPU backend; on WebGPU they
 * cannot, and treat an out-of-range target as ignored, so call this once per dataset or
 * batch while developing.
 *
 * @example
 * ```ts
 * import { tensor, validateTargets } from "@lossforge/core";
 * await validateTargets(tensor([0, 2, -100], { dtype: "int32" }), 3); // fine
 * const bad = tensor([0, 5], { dtype: "int32" });
 * await validateTargets(bad, 3).catch((e) => console.log(e.message));
 * // validateTargets: target 5 at position [1] is outside [0, 3) (use -100 to ignore a position)
 * ```
 */
export async function validateTargets(
  targets: Tensor,
  classes: number,
  options: { ignoreIndex?: number; loss?: string } = {},
): Promise<void> {
  const ignoreIndex = options.ignoreIndex ?? IGNORE_INDEX;
  const loss = options.loss ?? "validateTargets";
  if (targets.dtype !== "int32") {
    throw new DTypeError(`${loss}: targets must be int32 class ids, got ${targets.dtype}`);
  }
  const data = await targets.data();
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v !== ignoreIndex && !(v >= 0 && v < classes)) {
      badTarget(loss, v, i, targets.shape, classes, ignoreIndex);
    }
  }
}

/** Logits, targets and the counted positions of a class-scored loss, flattened. */
export interface Prepared {
  /** The logits as `[N, C]`. */
  logits: Tensor;
  /** `[N]` int32 class ids, with ignored positions replaced by 0 so they index safely. */
  targets: Tensor;
  /**
   * `[N]` in the logits' dtype: 1 at the counted positions, 0 elsewhere. "exclude": the
   * positions M (not ignored, in the window). "paper": every position of the window
   * (all of them without one), ignored ones included.
   */
  valid: Tensor;
  /** `[N]`: 1 at the positions M that are not ignored (equal to `valid` in "exclude"). */
  kept: Tensor;
  /** The masking these tensors were prepared for. */
  masking: Masking;
  /** The positions' shape (the targets' shape). */
  positions: readonly number[];
  /** N, the number of positions. */
  n: number;
  /** C, the number of classes. */
  classes: number;
}

/**
 * Checks the inputs of class-scored loss `loss` and flattens them: logits `[..., C]` float,
 * targets `[...]` int32, optional mask and window `[...]`. Positions are kept when their
 * target is not `ignoreIndex`, lies in `[0, C)`, the mask is non-zero there and they are in
 * the window. "exclude": the kept positions count. "paper": every position in the window
 * counts, the others' logits replaced by 0 (a uniform softmax) and their targets by 0.
 */
export function prepare(
  loss: string,
  logits: Tensor,
  targets: Tensor,
  opts: LossCallOptions,
  ignoreIndex: number,
  masking: Masking = "exclude",
): Prepared {
  const { mask, window } = opts;
  if (logits.dtype === "int32") {
    throw new DTypeError(`${loss}: logits must be float, got ${logits.dtype}`);
  }
  if (targets.dtype !== "int32") {
    throw new DTypeError(`${loss}: targets must be int32 class ids, got ${targets.dtype}`);
  }
  if (logits.rank < 1 || logits.shape[logits.rank - 1] < 1) {
    throw new ShapeError(
      `${loss}: logits ${fmtShape(logits.shape)} need a last axis of classes [..., C]`,
    );
  }
  const positions = logits.shape.slice(0, -1);
  const classes = logits.shape[logits.rank - 1];
  if (!sameShape(targets.shape, positions)) {
    throw new ShapeError(
      `${loss}: targets ${fmtShape(targets.shape)} do not match logits ${
        fmtShape(logits.shape)
      } (targets must be ${fmtShape(positions)})`,
    );
  }
  checkMaskShape(loss, mask, targets);
  checkMaskShape(loss, window, targets, "window");
  checkTargetsSync(loss, targets, classes, ignoreIndex);
  const n = targets.size;
  const flat = reshape(targets, [n]);
  let kept = validPositions(flat, ignoreIndex, classes, mask, logits.dtype);
  const inWindow = window ? cast(ne(reshape(window, [n]), 0), logits.dtype) : undefined;
  if (inWindow) kept = mul(kept, inWindow);
  const z = reshape(logits, [n, classes]);
  const safeTargets = where(kept, flat, 0);
  if (masking === "exclude") {
    return { logits: z, targets: safeTargets, valid: kept, kept, masking, positions, n, classes };
  }
  const valid = inWindow ?? full([n], 1, { dtype: logits.dtype, backend: logits.backend.name });
  return {
    logits: where(reshape(kept, [n, 1]), z, 0),
    targets: safeTargets,
    valid,
    kept,
    masking,
    positions,
    n,
    classes,
  };
}

/** Throws a ShapeError unless `mask` (when given) has the targets' shape. */
export function checkMaskShape(
  loss: string,
  mask: Tensor | undefined,
  targets: Tensor,
  what = "mask",
): void {
  if (mask && !sameShape(mask.shape, targets.shape)) {
    throw new ShapeError(
      `${loss}: ${what} ${fmtShape(mask.shape)} does not match targets ${fmtShape(targets.shape)}`,
    );
  }
}

/** `[N]` float 1/0: target is not ignored, is in [0, classes), and the mask is non-zero. */
export function validPositions(
  flatTargets: Tensor,
  ignoreIndex: number,
  classes: number,
  mask: Tensor | undefined,
  dtype: Tensor["dtype"],
): Tensor {
  const t = flatTargets;
  let ok = mul(mul(ne(t, ignoreIndex), ge(t, 0)), lt(t, classes));
  if (mask) ok = mul(ok, ne(reshape(mask, [t.size]), 0));
  return cast(ok, dtype);
}

/**
 * Reduces per-position values `[N]` over the counted positions: mean (0 when none count,
 * with zero gradient), sum, or the masked values reshaped to `positions`. Ignored
 * positions are selected away (not multiplied by 0), so NaN or Inf there cannot leak in.
 */
export function reducePositions(
  values: Tensor,
  valid: Tensor,
  reduction: Reduction,
  positions: readonly number[],
): Tensor {
  const kept = where(valid, values, 0);
  if (reduction === "none") return reshape(kept, positions);
  if (reduction === "sum") return sum(kept);
  return sum(kept).div(maximum(sum(valid), 1));
}

/** The mean of `values` over the entries where `weight` is non-zero; 0 when there are none. */
export function maskedMean(values: Tensor, weight: Tensor): Tensor {
  return sum(where(weight, values, 0)).div(maximum(sum(weight), 1));
}

/**
 * `num / den`, with 1 where `den` is 0 (an empty class, smoothing 0: a perfect match), so
 * a Dice-type score never becomes 0/0 = NaN and its gradient stays finite.
 */
export function safeRatio(num: Tensor, den: Tensor): Tensor {
  const empty = eq(den, 0); // NaN is not 0: it propagates
  return where(empty, 1, num.div(where(empty, 1, den)));
}

/**
 * How many counted positions hold each class, per group: targets and valid `[G, T]`,
 * result `[G, C]` (one scatter-add over positions, never a one-hot `[G, T, C]`).
 */
export function classCounts(targets: Tensor, valid: Tensor, classes: number): Tensor {
  const [g] = targets.shape;
  const base = zeros([g, classes], { dtype: valid.dtype, backend: valid.backend.name });
  return scatterAdd(base, 1, targets, valid);
}

/** A scalar constant on `like`'s backend and dtype. */
export function constant(value: number, like: Tensor): Tensor {
  return full([], value, { dtype: like.dtype, backend: like.backend.name });
}

/** The floor under 1 - p before a power: keeps (1-p)^g and its gradient finite at p = 1. */
const TINY = 1e-30;

/**
 * (1 - p)^g for probabilities p. g = 0 gives exactly 1 (no gradient), so focal with g = 0
 * is exactly cross-entropy. Otherwise 1 - p is floored at 1e-30: where p rounds to 1 the
 * factor is ~0 with zero gradient instead of 0^(g-1) = Inf for g < 1.
 */
export function oneMinusPow(p: Tensor, g: number): Tensor | null {
  if (g === 0) return null;
  const q = maximum(p.neg().add(1), TINY);
  return g === 1 ? q : q.pow(g);
}

/**
 * Lovász-Softmax and Lovász hinge (Berman et al. 2018): convex surrogates of the Jaccard
 * loss built from sorted errors.
 * @module
 */
import {
  abs,
  arange,
  argsort,
  cast,
  concat,
  DTypeError,
  eq,
  expand,
  full,
  gather,
  ge,
  maximum,
  ne,
  noGrad,
  relu,
  reshape,
  ShapeError,
  slice,
  softmax,
  sort,
  type Tensor,
  transpose,
  where,
} from "../autograd/mod.ts";
import {
  BASE_OPTION_NAMES,
  type BaseLossOptions,
  callMasking,
  checkMaskShape,
  checkOptionNames,
  checkTargetsSync,
  classCounts,
  fmtShape,
  IGNORE_INDEX,
  type LossCallOptions,
  type LossFn,
  lossMasking,
  maskedMean,
  type Masking,
  maskingName,
  named,
  prepare,
  type Prepared,
  validPositions,
} from "./_common.ts";
import { sameShape } from "../autograd/shape.ts";
import { fusedPolicy } from "../autograd/fused.ts";
import { useFused } from "./_fused_common.ts";
import { hingeRowsAnalytic, hingeRowsGpu } from "./_fused_hinge.ts";
import { classErrors, lovaszRows as fusedLovaszRows } from "./_fused_lovasz.ts";
import {
  checkClasses,
  checkClassWeights,
  type ClassAverage,
  weightedMean,
  weightsLabel,
  weightsOf,
} from "./_overlap.ts";

/**
 * Options of `lovaszSoftmax`.
 *
 * @example
 * ```ts
 * import { lovaszSoftmax, type LovaszSoftmaxOptions, tensor } from "@lossforge/core";
 * const logits = tensor([[2, 0, 0], [0, 2, 0]]), targets = tensor([0, 0], { dtype: "int32" });
 * const l = (o: LovaszSoftmaxOptions) => lovaszSoftmax(o)(logits, targets).item();
 * console.log(await l({ classes: "present" }), await l({ classes: "all" })); // ≈ 0.5533 0.4822
 * ```
 */
export interface LovaszSoftmaxOptions extends BaseLossOptions {
  /** Average over the classes present in the targets (default) or over all C classes. */
  classes?: ClassAverage;
  /**
   * Use the fused WebGPU kernels (class probabilities without a softmax over [N, C], and
   * the sorted-error weights and sums) for float32 logits on the webgpu backend (default
   * true); false forces the composed ops.
   */
  fused?: boolean;
  /**
   * Per-class weights w (length C, finite, >= 0, one above 0): the mean over the averaged
   * classes becomes Σ_c w_c loss_c / Σ_c w_c (as `dice`'s). A length other than C is an
   * error at call time.
   */
  classWeights?: readonly number[];
}

/**
 * The Lovász extension's weights for ground truth sorted by decreasing error, row by row
 * (`[K, N]`, 1 at positives): with G = Σ y, inter_k = G - cumsum(y)_k,
 * union_k = G + cumsum(1 - y)_k, J_k = 1 - inter_k / union_k, g_1 = J_1 and
 * g_k = J_k - J_{k-1}. They depend only on the order, so they are constants.
 */
export function lovaszWeights(ySorted: Tensor, inFloat32 = false): Tensor {
  if (inFloat32 && ySorted.dtype !== "float32") {
    // The published code computes them in float32 whatever the probabilities' dtype.
    return noGrad(() => cast(lovaszWeights(cast(ySorted, "float32")), ySorted.dtype));
  }
  return noGrad(() => {
    const total = ySorted.sum(-1, true);
    const inter = total.sub(ySorted.cumsum(-1));
    const union = total.add(ySorted.neg().add(1).cumsum(-1));
    const jac = inter.div(union).neg().add(1);
    const [rows, n] = jac.shape;
    if (n <= 1) return jac;
    const zero = full([rows, 1], 0, { dtype: jac.dtype, backend: jac.backend.name });
    return jac.sub(concat([zero, slice(jac, [0, 0], [rows, n - 1])], 1));
  });
}

/**
 * Σ_k e_π(k) g_k per row: `errors` `[K, N]` (0 at ignored positions), `sortKey` `[K, N]`
 * (the errors, with ignored positions made smaller than any error so they sort last) and
 * ground truth `y` `[K, N]`. One batched sort along the last axis for all K rows; the
 * weights in float32 when `inFloat32` (the published code's "paper" mode).
 */
function lovaszRows(errors: Tensor, sortKey: Tensor, y: Tensor, inFloat32 = false): Tensor {
  const order = noGrad(() => argsort(sortKey, true));
  const weights = lovaszWeights(gather(y, 1, order), inFloat32);
  return gather(errors, 1, order).mul(weights).sum(1);
}

/**
 * The classes Lovász-Softmax scores, without reading data back to the host (so the same
 * code runs on the GPU): int32 slots `[K]` and a weight `[K]` (1 for a slot that counts).
 * "all": the C classes. "present" with C <= N: the C classes, weighted by presence.
 * "present" with C > N (a language model's vocabulary): K = N slots holding the sorted
 * targets, each class counted at its first slot, so the work scales with the positions,
 * never with the vocabulary.
 */
function classSlots(prep: Prepared, mode: ClassAverage): { slots: Tensor; weight: Tensor } {
  const { targets, valid, n, classes } = prep;
  const backend = valid.backend.name;
  return noGrad(() => {
    if (mode === "all" || classes <= n) {
      const slots = arange(classes, undefined, 1, { backend, dtype: "int32" });
      if (mode === "all") {
        return { slots, weight: full([classes], 1, { dtype: valid.dtype, backend }) };
      }
      const counts = classCounts(reshape(targets, [1, n]), reshape(valid, [1, n]), classes);
      return { slots, weight: reshape(counts, [classes]).gt(0) };
    }
    const sorted = sort(where(valid, cast(targets, valid.dtype), -1));
    const before = full([1], -2, { dtype: valid.dtype, backend });
    const prev = n === 1 ? before : concat([before, slice(sorted, [0], [n - 1])]);
    const weight = ne(sorted, prev).mul(ge(sorted, 0));
    return { slots: cast(maximum(sorted, 0), "int32"), weight };
  });
}

/**
 * Lovász-Softmax loss (Berman et al. 2018): for each class c, with p = softmax(z),
 * y = one-hot(t) and errors e_i = |y_ic - p_ic| over the counted positions M sorted in
 * decreasing order π, G = S(y_c), inter_k = G - cumsum(y)_k, union_k = G + cumsum(1-y)_k,
 * J_k = 1 - inter_k/union_k, g_1 = J_1, g_k = J_k - J_{k-1}:
 * loss_c = Σ_k e_π(k) g_k. Averaged over the present classes (`classes: "all"`: over all C);
 * `classWeights` w makes it Σ_c w_c loss_c / Σ_c w_c over those classes. 0 with zero
 * gradient when M is empty. The weights g depend only on the order and are
 * constants when differentiating.
 *
 * It never loops over the vocabulary: it gathers the columns of the scored classes into
 * `[N, K]` (K <= min(N, C) for "present"), transposes to `[K, N]` and sorts all K rows in
 * one batched sort. On WebGPU (float32) fused kernels compute the `[K, N]` errors straight
 * from the logits and each row's weighted sum in one scan.
 *
 * `masking: "paper"` computes what the published code does: the probabilities (not the
 * logits) and the targets are multiplied by the mask, so an ignored position counts with
 * p_i = 0 for every class and target 0. It makes class 0 present and has error 1 for class
 * 0 (0 for the others); every position counts in each class's sort, G = S(y'_c) counts the
 * ignored positions for class 0, the weights are computed in float32, and the mean is over
 * the present classes (of the targets t'_i = m_i t_i). Its gradient at the ignored
 * positions is 0.
 *
 * @example
 * ```ts
 * import { lovaszSoftmax, tensor } from "@lossforge/core";
 * const logits = tensor([[4, 0, 0], [0, 4, 0], [0, 0, 4]]);
 * const targets = tensor([0, 1, 1], { dtype: "int32" });
 * console.log(await lovaszSoftmax()(logits, targets).item()); // ≈ 0.2721
 * // Class 1 counts three times as much as class 0 in the mean over the present classes.
 * console.log(await lovaszSoftmax({ classWeights: [1, 3, 1] })(logits, targets).item());
 * ```
 */
export function lovaszSoftmax(options: LovaszSoftmaxOptions = {}): LossFn {
  checkOptionNames("lovaszSoftmax", options, [
    ...BASE_OPTION_NAMES,
    "classes",
    "fused",
    "classWeights",
  ]);
  const mode = options.classes ?? "present";
  const ignoreIndex = options.ignoreIndex ?? IGNORE_INDEX;
  const { classWeights } = options;
  checkClasses("lovaszSoftmax", mode);
  checkClassWeights("lovaszSoftmax", classWeights);
  const own = lossMasking("lovaszSoftmax", options);
  const label = classWeights ? `${weightsLabel(classWeights)}, ` : "";
  const name = maskingName(`lovaszSoftmax(${label}${mode})`, own);
  return named(name, (logits: Tensor, targets: Tensor, opts = {}): Tensor => {
    const masking = callMasking("lovaszSoftmax", own, opts);
    const prep = prepare("lovaszSoftmax", logits, targets, opts, ignoreIndex, masking);
    const { n, valid, kept } = prep;
    const paper = masking === "paper";
    const { slots, weight: counts } = classSlots(prep, mode);
    const k = slots.size;
    // Each scored slot's weight: its class's, or 1 (a plain mean over the counted slots).
    const mean = (perClass: Tensor) =>
      classWeights
        ? weightedMean(
          perClass,
          counts.mul(
            gather(weightsOf("lovaszSoftmax", classWeights, prep.classes, counts), 0, slots),
          ),
        )
        : maskedMean(perClass, counts);
    if (useFused(prep.logits, options.fused)) {
      // [K, N] errors straight from the logits, -1 at positions not kept (sorted last).
      let errors = classErrors(prep.logits, slots, prep.targets, kept);
      // "paper": an ignored position in the window has p = 0 and target 0: error [s_k = 0].
      if (paper) errors = where(reshape(kept, [1, n]), errors, zeroRowErrors(slots, valid));
      const order = noGrad(() => argsort(errors, true));
      return mean(fusedLovaszRows(errors, order, slots, prep.targets, valid));
    }
    let probs = transpose(
      gather(softmax(prep.logits), 1, expand(reshape(slots, [1, k]), [n, k])),
    );
    if (paper) probs = where(reshape(kept, [1, n]), probs, 0);
    const y = noGrad(() =>
      cast(eq(reshape(slots, [k, 1]), reshape(prep.targets, [1, n])), valid.dtype).mul(valid)
    );
    const errors = where(valid, abs(y.sub(probs)), 0);
    const key = noGrad(() => where(valid, errors, -1));
    return mean(lovaszRows(errors, key, y, paper));
  });
}

/**
 * The "paper" errors `[K, N]` of zeroed positions, |[s_k = 0] - 0|, in the window (`valid`
 * `[N]`), and -1 (sorted last) outside it.
 */
function zeroRowErrors(slots: Tensor, valid: Tensor): Tensor {
  return noGrad(() => {
    const isZero = cast(eq(reshape(slots, [slots.size, 1]), 0), valid.dtype);
    return where(reshape(valid, [1, valid.size]), isZero, -1);
  });
}

/**
 * Options of `lovaszHinge`.
 *
 * @example
 * ```ts
 * import { lovaszHinge, type LovaszHingeOptions, tensor } from "@lossforge/core";
 * const logits = tensor([[2, -1, 0.5], [-3, 1, 1]]); // [B=2, T=3] binary scores
 * const targets = tensor([[1, 1, 0], [0, 1, 0]], { dtype: "int32" });
 * const h = (o: LovaszHingeOptions) => lovaszHinge(o)(logits, targets).item();
 * console.log(await h({}), await h({ perSequence: false })); // ≈ 1.125 1.15
 * ```
 */
export interface LovaszHingeOptions extends BaseLossOptions {
  /**
   * One value per sequence (each index of the leading axes of `[..., T]` logits), then
   * their mean (default true); false pools every position into one.
   */
  perSequence?: boolean;
  /**
   * Use the fused path, whose gradient is analytic (-s_i g_rank(i) [e_i > 0], no tape
   * through the sort): one WGSL kernel per row for float32 logits on the webgpu backend
   * (default true there); `true` on other backends takes the same analytic path built from
   * backend primitives; false forces the composed ops.
   */
  fused?: boolean;
}

/**
 * The hinge's positions `[N]`: `kept`, not ignored and in the window; `counted`, those
 * that count (`kept` in "exclude", the whole window in "paper").
 */
function hingePositions(
  flat: Tensor,
  ignoreIndex: number,
  opts: LossCallOptions,
  masking: Masking,
  dtype: Tensor["dtype"],
): { kept: Tensor; counted: Tensor } {
  let kept = validPositions(flat, ignoreIndex, 2, opts.mask, dtype);
  const n = flat.size;
  const inWindow = opts.window ? cast(ne(reshape(opts.window, [n]), 0), dtype) : undefined;
  if (inWindow) kept = kept.mul(inWindow);
  if (masking === "exclude") return { kept, counted: kept };
  return { kept, counted: inWindow ?? full([n], 1, { dtype, backend: flat.backend.name }) };
}

/**
 * Lovász hinge (Berman et al. 2018), binary: logits z `[...]` (one score per position),
 * targets y `[...]` int32 0/1 (-100 ignores). Errors 1 - z_i s_i with s_i = 2y_i - 1,
 * sorted in decreasing order, and relu(errors) dotted with the Lovász weights g of the
 * sorted targets (as in `lovaszSoftmax`, constants). Per sequence then the mean over
 * sequences with a counted position (default), or pooled; 0 with zero gradient when
 * nothing counts. On WebGPU (float32) a fused kernel computes each row's weights, value
 * and analytic gradient in one scan over the sorted order.
 *
 * `masking: "paper"`: the published code has no hinge; this mode applies its convention:
 * an ignored position counts with z_i = 0 and y_i = 0, so its error is 1 (relu 1, a
 * negative), it takes part in its sequence's sort and weights, and has zero gradient.
 *
 * @example
 * ```ts
 * import { lovaszHinge, tensor } from "@lossforge/core";
 * const logits = tensor([[2, -1, 0.5], [-3, 1, 1]]);
 * const targets = tensor([[1, 0, 1], [0, 1, -100]], { dtype: "int32" });
 * console.log(await lovaszHinge()(logits, targets).item()); // 0.125
 * ```
 */
export function lovaszHinge(options: LovaszHingeOptions = {}): LossFn {
  checkOptionNames("lovaszHinge", options, [...BASE_OPTION_NAMES, "perSequence", "fused"]);
  const perSequence = options.perSequence ?? true;
  const ignoreIndex = options.ignoreIndex ?? IGNORE_INDEX;
  const own = lossMasking("lovaszHinge", options);
  const name = maskingName(`lovaszHinge(${perSequence ? "perSequence" : "pooled"})`, own);
  return named(name, (logits: Tensor, targets: Tensor, opts = {}): Tensor => {
    const masking = callMasking("lovaszHinge", own, opts);
    if (logits.dtype === "int32") {
      throw new DTypeError(`lovaszHinge: logits must be float, got ${logits.dtype}`);
    }
    if (targets.dtype !== "int32") {
      throw new DTypeError(`lovaszHinge: targets must be int32 0/1, got ${targets.dtype}`);
    }
    if (!sameShape(logits.shape, targets.shape)) {
      throw new ShapeError(
        `lovaszHinge: targets ${fmtShape(targets.shape)} do not match logits ${
          fmtShape(logits.shape)
        } (binary: one logit per position)`,
      );
    }
    checkMaskShape("lovaszHinge", opts.mask, targets);
    checkMaskShape("lovaszHinge", opts.window, targets, "window");
    checkTargetsSync("lovaszHinge", targets, 2, ignoreIndex, "{0, 1}");
    const size = targets.size;
    const len = perSequence && logits.rank >= 1 ? (logits.shape[logits.rank - 1] ?? 1) : size;
    const rows = len === 0 ? 0 : size / len;
    const flat = reshape(targets, [size]);
    const { kept, counted } = hingePositions(flat, ignoreIndex, opts, masking, logits.dtype);
    const valid = reshape(counted, [rows, len]);
    const y = noGrad(() => reshape(cast(where(kept, flat, 0), logits.dtype), [rows, len]));
    let z = reshape(logits, [rows, len]);
    if (masking === "paper") z = where(reshape(kept, [rows, len]), z, 0);
    const gpu = size > 0 && useFused(logits, options.fused);
    // Elsewhere `fused: true` asks for the analytic path from primitives (the policy can
    // still turn it off: then the composed ops run, as for every loss).
    const analytic = !gpu && size > 0 && options.fused === true && fusedPolicy.choose("loss", true);
    if (gpu || analytic) {
      const order = noGrad(() =>
        argsort(where(valid, z.mul(y.mul(2).sub(1)).neg().add(1), -Infinity), true)
      );
      const perRow = gpu
        ? hingeRowsGpu(z, y, valid, order)
        : hingeRowsAnalytic(z, y, valid, order, lovaszWeights(gather(y, 1, order)));
      return maskedMean(perRow, valid.sum(1).gt(0));
    }
    const errors = z.mul(y.mul(2).sub(1)).neg().add(1);
    const key = noGrad(() => where(valid, errors, -Infinity));
    const perRow = lovaszRows(where(valid, relu(errors), 0), key, y);
    return maskedMean(perRow, valid.sum(1).gt(0));
  });
}

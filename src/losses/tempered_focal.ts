/**
 * Tempered focal loss, TOFU (Klypa and Cherednichenko 2026, arXiv 2605.00195): focal's
 * gradient weight, held constant, on the log-probability at a temperature.
 * @module
 */
import {
  exp,
  gather,
  logSoftmax,
  reshape,
  stopGradient,
  type Tensor,
  unsqueeze,
  ValueError,
} from "../autograd/mod.ts";
import {
  type BaseLossOptions,
  checkNumber,
  checkOptionNames,
  type LossFn,
  oneMinusPow,
  type Reduction,
} from "./_common.ts";
import { TARGET_OPTION_NAMES, targetLoss, targetReduction } from "./_target.ts";

/**
 * Options of `temperedFocal`.
 *
 * @example
 * ```ts
 * import { temperedFocal, type TemperedFocalOptions, tensor } from "@lossforge/core";
 * const logits = tensor([[0, 0]]), targets = tensor([0], { dtype: "int32" }); // p_t = 1/2
 * const f = (o: TemperedFocalOptions) => temperedFocal(o)(logits, targets).item();
 * // gamma 0, temperature 1: cross-entropy, log 2; the defaults give w = 1/8 + (3/8) log 2.
 * console.log(await f({ gamma: 0, temperature: 1 }), await f({})); // ≈ 0.6931 ≈ 0.2134
 * ```
 */
export interface TemperedFocalOptions extends BaseLossOptions {
  /** The focusing exponent g >= 0 (default 3, the source's). */
  gamma?: number;
  /** The temperature b > 0 of the log-probability term (default 0.8, the source's). */
  temperature?: number;
  /** How to reduce over positions (default "mean"). */
  reduction?: Reduction;
  /** Use the fused WebGPU kernel where it applies (default true; see `crossEntropy`). */
  fused?: boolean;
}

/**
 * The weight w(p, g) = (1 - p)^g - g p (1 - p)^(g-1) log p `[N]` from log p `[N]` (no
 * gradient): what focal's gradient is cross-entropy's multiplied by. 1 - p is floored at
 * 1e-30 as in focal, so w stays finite at p = 1 for g < 1.
 */
function focalWeight(logpt: Tensor, gamma: number): Tensor {
  const lp = stopGradient(logpt);
  if (gamma === 0) return lp.mul(0).add(1);
  const pt = exp(lp);
  const u = oneMinusPow(pt, 1)!;
  const slope = gamma === 1 ? pt.mul(0).add(1) : u.pow(gamma - 1);
  return oneMinusPow(pt, gamma)!.sub(slope.mul(pt).mul(lp).mul(gamma));
}

/**
 * Per-position tempered focal values `[N]` from `[N, C]` logits and safe targets `[N]`:
 * -sg(w(p_t, g)) · b · log q_t with p = softmax(z), q = softmax(z / b).
 */
export function temperedFocalPerPosition(
  logits: Tensor,
  targets: Tensor,
  gamma: number,
  temperature: number,
): Tensor {
  const at = unsqueeze(targets, -1);
  const n = targets.size;
  const logpt = reshape(gather(logSoftmax(logits), 1, at), [n]);
  const logqt = reshape(gather(logSoftmax(logits.mul(1 / temperature)), 1, at), [n]);
  return focalWeight(logpt, gamma).mul(logqt).mul(-temperature);
}

/**
 * Tempered focal loss (TOFU; Klypa and Cherednichenko 2026, "Diversity in Large Language
 * Models under Supervised Fine-Tuning", arXiv 2605.00195, defined in its authors' published
 * README and `train/tofu_loss.py`): per position i,
 * -sg(w(p_{i,t_i}, g)) · b · log q_{i,t_i}, with p = softmax(z), q = softmax(z / b),
 * w(p, g) = (1 - p)^g - g p (1 - p)^(g-1) log p and sg the stop-gradient; g = `gamma`
 * (default 3) and b = `temperature` (default 0.8), the source's fixed defaults. w is the
 * factor by which focal loss's gradient differs from cross-entropy's, so the gradient is
 * w(p_t) (q_i - y_i): at b = 1 it equals focal's gradient exactly (the values differ), and
 * g = 0, b = 1 is cross-entropy. Reduced by the mean over the counted positions M
 * (`reduction: "sum"` or `"none"` as for `crossEntropy`); 0 with zero gradient when M is
 * empty. Non-negative. Registry name `tofu`.
 *
 * `masking: "paper"`: TOFU is not in the code published with the paper; it follows that
 * code's convention for its per-position losses (focal, Self-Adjusting Dice): an ignored
 * position keeps counting with zero logits and target 0, so p_t = q_t = 1/C there; it adds
 * w(1/C, g) · b · log C (no gradient) and the mean runs over every position.
 *
 * @example
 * ```ts
 * import { temperedFocal, tensor } from "@lossforge/core";
 * const logits = tensor([[0, 0]]); // p_t = q_t = 1/2
 * const targets = tensor([1], { dtype: "int32" });
 * const v = await temperedFocal({ gamma: 1, temperature: 1 })(logits, targets).item();
 * console.log(v); // w = 1/2 + (1/2) log 2, times log 2 ≈ 0.5868
 * ```
 */
export function temperedFocal(options: TemperedFocalOptions = {}): LossFn {
  checkOptionNames("temperedFocal", options, [...TARGET_OPTION_NAMES, "gamma", "temperature"]);
  const gamma = options.gamma ?? 3;
  const temperature = options.temperature ?? 0.8;
  checkNumber("temperedFocal", "gamma", gamma);
  checkNumber("temperedFocal", "temperature", temperature);
  if (temperature === 0) throw new ValueError("temperedFocal: temperature must be > 0, got 0");
  return targetLoss({
    loss: "temperedFocal",
    name: `temperedFocal(gamma=${gamma}, temperature=${temperature})`,
    options,
    reduction: targetReduction("temperedFocal", options),
    settings: { kind: "temperedFocal", gamma, temperature },
    composed: (z, t) => temperedFocalPerPosition(z, t, gamma, temperature),
    paperZeroRows: true,
  });
}

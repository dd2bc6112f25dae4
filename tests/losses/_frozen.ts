// Losses with a stop-gradient (DFT, tempered focal): by definition their gradient is not the
// derivative of their value but that of a surrogate whose stopped factor is frozen at the
// point, S(z) = Σ_i w_i(z0) base_i(z) / count. Central differences of S in plain float64 JS
// (independent of the engine) check the engine's gradient of the loss.
import { type LossFn, type Masking, type Tensor, tensor, valueAndGrad } from "../../mod.ts";
import { assertClose } from "../_assert.ts";
import { keepMask } from "./_paper_reference.ts";
import type { Problem } from "./_reference.ts";

/** A stop-gradient loss per position: frozen weight times a differentiated base. */
export interface Frozen {
  /** The stopped factor at a row of logits and its target. */
  weight: (z: number[], t: number) => number;
  /** The differentiated factor. */
  base: (z: number[], t: number) => number;
}

function logSoftmaxAt(z: number[], t: number): number {
  const m = Math.max(...z);
  return z[t] - m - Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
}

/** DFT: sg(p_t) · (-log p_t). */
export const DFT_FROZEN: Frozen = {
  weight: (z, t) => Math.exp(logSoftmaxAt(z, t)),
  base: (z, t) => -logSoftmaxAt(z, t),
};

/** Tempered focal: sg(w(p_t, g)) · (-b log q_t), q = softmax(z / b). */
export function temperedFocalFrozen(gamma = 3, b = 0.8): Frozen {
  return {
    weight: (z, t) => {
      const lp = logSoftmaxAt(z, t), pt = Math.exp(lp), u = Math.max(1 - pt, 1e-30);
      return Math.pow(u, gamma) - (gamma === 0 ? 0 : gamma * pt * Math.pow(u, gamma - 1) * lp);
    },
    base: (z, t) => -b * logSoftmaxAt(z.map((v) => v / b), t),
  };
}

/**
 * Checks `loss`'s float64 gradient on `p` against central differences of the frozen
 * surrogate: the mean over the kept positions ("exclude") or over every position ("paper",
 * where an ignored row is a constant zero row).
 */
export async function frozenGradcheck(
  loss: LossFn,
  frozen: Frozen,
  p: Problem,
  masking: Masking = "exclude",
  msg = "frozenGradcheck",
): Promise<void> {
  const m = keepMask(p);
  const count = masking === "paper" ? p.targets.length : Math.max(1, m.reduce((a, b) => a + b));
  const w = p.logits.map((z, i) => (m[i] ? frozen.weight(z, p.targets[i]) : 0));
  const surrogate = (rows: number[][]) =>
    rows.reduce((s, z, i) => (m[i] ? s + w[i] * frozen.base(z, p.targets[i]) : s), 0) / count;
  const h = 1e-6, c = p.logits[0].length;
  // Built here, not with _helpers.ts (which imports this file for its table of losses).
  const f64 = (data: number[], shape: number[]) =>
    tensor(data, { dtype: "float64", backend: "cpu", shape });
  const targets = tensor(p.targets, { dtype: "int32", backend: "cpu" });
  const mask = p.mask ? f64(p.mask, [p.mask.length]) : undefined;
  const z0 = f64(p.logits.flat(), [p.logits.length, c]);
  const grad = await valueAndGrad((z: Tensor) => loss(z, targets, { mask }))(z0)[1].data();
  const numeric = new Float64Array(grad.length);
  for (let i = 0; i < p.logits.length; i++) {
    for (let k = 0; k < c; k++) {
      const at = (d: number) =>
        surrogate(p.logits.map((z, r) => (r === i ? z.map((v, j) => (j === k ? v + d : v)) : z)));
      numeric[i * c + k] = (at(h) - at(-h)) / (2 * h);
    }
  }
  for (let i = 0; i < grad.length; i++) {
    const err = Math.abs(grad[i] - numeric[i]) /
      Math.max(Math.abs(grad[i]), Math.abs(numeric[i]), 1e-3);
    if (!(err <= 1e-5)) {
      assertClose(grad, numeric, { rtol: 1e-5, atol: 1e-8, msg: `${msg}: element ${i}` });
    }
  }
}

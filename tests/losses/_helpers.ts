// Shared by the loss tests: float64 CPU tensors from problems, random problems, and the
// table of every loss with its plain-JS reference.
import fc from "fast-check";
import {
  combine,
  crossEntropy,
  dice,
  dynamicFineTuning,
  focal,
  generalizedDice,
  jaccard,
  type LossFn,
  lovaszSoftmax,
  probabilityLoss,
  selfAdjustingDice,
  temperedFocal,
  type Tensor,
  tensor,
  tversky,
  valueAndGrad,
} from "../../mod.ts";
import {
  type Problem,
  refCrossEntropy,
  refDft,
  refDice,
  refFocal,
  refGeneralizedDice,
  refJaccard,
  refLovaszSoftmax,
  refProbability,
  refSelfAdjustingDice,
  refTemperedFocal,
  refTversky,
} from "./_reference.ts";
import { DFT_FROZEN, type Frozen, temperedFocalFrozen } from "./_frozen.ts";

/** A float64 CPU tensor. */
export function f64(data: number[] | number[][], shape?: number[]): Tensor {
  return tensor(data.flat() as number[], {
    dtype: "float64",
    backend: "cpu",
    shape: shape ?? (Array.isArray(data[0]) ? [data.length, (data[0] as number[]).length] : [
      data.length,
    ]),
  });
}

/** Logits that give exactly these probabilities: log p (log 0 = -Infinity). */
export function logitsOfProbabilities(p: number[][]): number[][] {
  return p.map((row) => row.map(Math.log));
}

/** An int32 CPU tensor. */
export function i32(data: number[], shape?: number[]): Tensor {
  return tensor(data, { dtype: "int32", backend: "cpu", shape: shape ?? [data.length] });
}

/** The tensors of a problem: logits [N, C] float64, targets [N], mask [N]. */
export function tensorsOf(p: Problem): { logits: Tensor; targets: Tensor; mask?: Tensor } {
  return {
    logits: f64(p.logits),
    targets: i32(p.targets),
    mask: p.mask ? f64(p.mask) : undefined,
  };
}

/** The loss value of a problem. */
export async function valueOn(loss: LossFn, p: Problem): Promise<number> {
  const { logits, targets, mask } = tensorsOf(p);
  return await loss(logits, targets, { mask }).item();
}

/** Value and gradient (with respect to the logits) of a problem. */
export async function valueAndGradOn(
  loss: LossFn,
  p: Problem,
): Promise<{ value: number; grad: Float64Array }> {
  const { logits, targets, mask } = tensorsOf(p);
  const [v, g] = valueAndGrad((z: Tensor) => loss(z, targets, { mask }))(logits);
  return { value: await v.item(), grad: (await g.data()) as Float64Array };
}

/** Options of random problems. */
export interface ProblemOptions {
  minN?: number;
  maxN?: number;
  minC?: number;
  maxC?: number;
  /** Logits range (default ±4). */
  scale?: number;
  /** Whether some targets are -100 (default true). */
  ignore?: boolean;
  /** Whether to add a random 0/1 mask (default false). */
  mask?: boolean;
}

/** Random problems. */
export function problems(o: ProblemOptions = {}): fc.Arbitrary<Problem> {
  const scale = o.scale ?? 4;
  return fc.record({
    n: fc.integer({ min: o.minN ?? 1, max: o.maxN ?? 6 }),
    c: fc.integer({ min: o.minC ?? 2, max: o.maxC ?? 5 }),
  }).chain(({ n, c }) =>
    fc.record({
      logits: fc.array(
        fc.array(fc.double({ min: -scale, max: scale, noNaN: true }), {
          minLength: c,
          maxLength: c,
        }),
        { minLength: n, maxLength: n },
      ),
      targets: fc.array(
        o.ignore === false ? fc.integer({ min: 0, max: c - 1 }) : fc.oneof(
          { arbitrary: fc.integer({ min: 0, max: c - 1 }), weight: 4 },
          { arbitrary: fc.constant(-100), weight: 1 },
        ),
        { minLength: n, maxLength: n },
      ),
      mask: o.mask
        ? fc.array(fc.constantFrom(0, 1, 1), { minLength: n, maxLength: n })
        : fc.constant(undefined),
    }).map((p) => (p.mask ? p : { logits: p.logits, targets: p.targets }) as Problem)
  );
}

/** The positions of the problem reordered by `perm`. */
export function permuteProblem(p: Problem, perm: number[]): Problem {
  return {
    logits: perm.map((i) => p.logits[i]),
    targets: perm.map((i) => p.targets[i]),
    mask: p.mask ? perm.map((i) => p.mask![i]) : undefined,
  };
}

/** A loss under test, with its reference and the properties that apply. */
export interface LossCase {
  /** Label. */
  label: string;
  /** Makes the loss. */
  make: () => LossFn;
  /** The plain-JS value of the contract. */
  reference: (p: Problem) => number;
  /** Values lie in [0, 1]. */
  bounded: boolean;
  /** The value at a perfect prediction (0 for most). */
  perfect: number;
  /** Sorting inside: gradients only at points with a unique order. */
  sorts?: boolean;
  /** Problem sizes for this case (merged into every property's options). */
  sizes?: ProblemOptions;
  /**
   * A stop-gradient inside (DFT, tempered focal): the gradient is checked against central
   * differences of this frozen surrogate instead of the value's.
   */
  frozen?: Frozen;
}

const allRows = (p: Problem) => [p.targets.map((_, i) => i)];

/** Every class-scored loss (lovaszHinge, binary, is tested on its own). */
export const LOSSES: LossCase[] = [
  {
    label: "crossEntropy",
    make: () => crossEntropy(),
    reference: (p) => refCrossEntropy(p),
    bounded: false,
    perfect: 0,
  },
  {
    label: "crossEntropy(labelSmoothing=0.1)",
    make: () => crossEntropy({ labelSmoothing: 0.1 }),
    reference: (p) => refCrossEntropy(p, 0.1),
    bounded: false,
    perfect: NaN, // smoothing keeps a floor above 0
  },
  {
    label: "focal",
    make: () => focal(),
    reference: (p) => refFocal(p),
    bounded: false,
    perfect: 0,
  },
  {
    label: "focal(gamma=0.5)",
    make: () => focal({ gamma: 0.5 }),
    reference: (p) => refFocal(p, 0.5),
    bounded: false,
    perfect: 0,
  },
  {
    label: "dice",
    make: () => dice(),
    reference: (p) => refDice(p),
    bounded: true,
    perfect: 0,
  },
  {
    label: "dice(all)",
    make: () => dice({ classes: "all", smooth: 1 }),
    reference: (p) => refDice(p, 1, "all"),
    bounded: true,
    perfect: NaN, // absent classes with some probability mass score below 1
  },
  {
    label: "jaccard",
    make: () => jaccard(),
    reference: (p) => refJaccard(p),
    bounded: true,
    perfect: 0,
  },
  {
    label: "tversky(0.3, 0.7)",
    make: () => tversky({ alpha: 0.3, beta: 0.7 }),
    reference: (p) => refTversky(p, 0.3, 0.7),
    bounded: true,
    perfect: 0,
  },
  {
    label: "generalizedDice",
    make: () => generalizedDice(),
    reference: (p) => refGeneralizedDice(p, allRows(p)),
    bounded: true,
    perfect: 0,
  },
  {
    label: "generalizedDice(simple)",
    make: () => generalizedDice({ weight: "simple" }),
    reference: (p) => refGeneralizedDice(p, allRows(p), "simple"),
    bounded: true,
    perfect: 0,
  },
  {
    label: "generalizedDice(uniform)",
    make: () => generalizedDice({ weight: "uniform" }),
    reference: (p) => refGeneralizedDice(p, allRows(p), "uniform"),
    bounded: true,
    perfect: 0,
  },
  {
    label: "selfAdjustingDice",
    make: () => selfAdjustingDice(),
    reference: (p) => refSelfAdjustingDice(p),
    bounded: true,
    perfect: 0.5, // q = 0 at p_t = 1: 1 - g/(1+g)
  },
  {
    label: "dynamicFineTuning",
    make: () => dynamicFineTuning(),
    reference: (p) => refDft(p),
    bounded: true, // in [0, 1/e]
    perfect: 0,
    frozen: DFT_FROZEN,
  },
  {
    label: "probabilityLoss(a=1)",
    make: () => probabilityLoss(),
    reference: (p) => refProbability(p, 1),
    bounded: true,
    perfect: 0,
  },
  {
    label: "probabilityLoss(a=0.3)",
    make: () => probabilityLoss({ a: 0.3 }),
    reference: (p) => refProbability(p, 0.3),
    bounded: false, // in [0, 1/a]
    perfect: 0,
  },
  {
    label: "temperedFocal",
    make: () => temperedFocal(),
    reference: (p) => refTemperedFocal(p),
    bounded: false,
    perfect: 0,
    frozen: temperedFocalFrozen(),
  },
  {
    label: "temperedFocal(gamma=0.5, temperature=1.5)",
    make: () => temperedFocal({ gamma: 0.5, temperature: 1.5 }),
    reference: (p) => refTemperedFocal(p, 0.5, 1.5),
    bounded: false,
    perfect: 0,
    frozen: temperedFocalFrozen(0.5, 1.5),
  },
  {
    label: "lovaszSoftmax",
    make: () => lovaszSoftmax(),
    reference: (p) => refLovaszSoftmax(p),
    bounded: true,
    perfect: 0,
    sorts: true,
  },
  {
    label: "lovaszSoftmax (C > N: class slots from the sorted targets)",
    make: () => lovaszSoftmax(),
    reference: (p) => refLovaszSoftmax(p),
    bounded: true,
    perfect: 0,
    sorts: true,
    sizes: { maxN: 4, minC: 5, maxC: 9 },
  },
  {
    label: "lovaszSoftmax(all)",
    make: () => lovaszSoftmax({ classes: "all" }),
    reference: (p) => refLovaszSoftmax(p, "all"),
    bounded: true,
    perfect: 0,
    sorts: true,
  },
  {
    label: "combine(0.6 ce + 0.4 dice)",
    make: () => combine([[crossEntropy(), 0.6], [dice(), 0.4]]),
    reference: (p) => 0.6 * refCrossEntropy(p) + 0.4 * refDice(p),
    bounded: false,
    perfect: 0,
  },
];

/** Smallest gap between the per-class Lovász errors of counted positions (unique order). */
export function lovaszGap(p: Problem): number {
  let gap = Infinity;
  const rows = p.targets.map((t, i) => (t !== -100 && (!p.mask || p.mask[i]) ? i : -1))
    .filter((i) => i >= 0);
  const c = p.logits[0].length;
  const probs = rows.map((i) => {
    const m = Math.max(...p.logits[i]);
    const e = p.logits[i].map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
  for (let k = 0; k < c; k++) {
    const err = rows.map((i, j) => Math.abs((p.targets[i] === k ? 1 : 0) - probs[j][k]))
      .sort((a, b) => a - b);
    for (let j = 1; j < err.length; j++) gap = Math.min(gap, err[j] - err[j - 1]);
  }
  return gap;
}

/** fast-check parameters: modest, the suite must stay fast on two cores. */
export const RUNS = { numRuns: 100 };

/** fast-check parameters for finite-difference checks (each costs 2·N·C evaluations). */
export const GRAD_RUNS = { numRuns: 40 };

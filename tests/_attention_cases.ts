// Random attention cases shared by the CPU and WebGPU attention tests: batch, key/value heads,
// query heads per key/value head, positions, head width, the mask's form and causality
// (a causal case has at least as many keys as queries).
import fc from "fast-check";

/** One attention case. */
export interface AttentionCase {
  b: number;
  hkv: number;
  group: number;
  t: number;
  tk: number;
  d: number;
  /** No mask, `[1, 1, T, Tk]`, `[B, 1, T, Tk]` or `[T, Tk]`. */
  mask: "none" | "shared" | "batch" | "2d";
  causal: boolean;
  seed: number;
}

/** Cases with the given position and width generators (b, hkv ≤ 2, group ≤ 3). */
export function attentionCaseArb(
  t: fc.Arbitrary<number>,
  tk: fc.Arbitrary<number>,
  d: fc.Arbitrary<number>,
): fc.Arbitrary<AttentionCase> {
  return fc.record({
    b: fc.integer({ min: 1, max: 2 }),
    hkv: fc.integer({ min: 1, max: 2 }),
    group: fc.integer({ min: 1, max: 3 }),
    t,
    tk,
    d,
    mask: fc.constantFrom<AttentionCase["mask"]>("none", "shared", "batch", "2d"),
    causal: fc.boolean(),
    seed: fc.integer({ min: 1, max: 1e6 }),
  }).map((c) => (c.causal && c.tk < c.t ? { ...c, tk: c.t } : c));
}

/** The mask's shape for a case (none for "none"). */
export function maskShape(c: AttentionCase): number[] {
  return c.mask === "shared"
    ? [1, 1, c.t, c.tk]
    : c.mask === "batch"
    ? [c.b, 1, c.t, c.tk]
    : [c.t, c.tk];
}

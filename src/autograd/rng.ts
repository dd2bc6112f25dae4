/**
 * A small, fast, seedable random generator (xoshiro128**), so runs are reproducible by
 * seed and the state can be saved in a checkpoint.
 * @module
 */

/**
 * A seeded random generator. `state` can be saved and restored to continue a sequence.
 *
 * @example
 * ```ts
 * import { type Rng, rng } from "@lossforge/core";
 * const dice = (r: Rng, n: number) => Array.from({ length: n }, () => 1 + r.int(6));
 * const r = rng(42);
 * const saved = [...r.state]; // what a checkpoint stores
 * const rolls = dice(r, 5);
 * r.state = saved;
 * console.log(dice(r, 5).join() === rolls.join()); // true: same state, same sequence
 * ```
 */
export interface Rng {
  /** A float in [0, 1). */
  uniform(): number;
  /** A standard normal sample (Box-Muller). */
  normal(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** A new generator whose sequence is independent of this one's continuation. */
  split(): Rng;
  /** The four 32-bit words of the state; assigning restores them. */
  state: number[];
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * Makes a generator from an integer seed (same seed, same sequence, on every platform).
 *
 * @example
 * ```ts
 * import { rng } from "@lossforge/core";
 * const r = rng(1);
 * console.log(r.uniform() === rng(1).uniform()); // true: same seed, same sequence
 * console.log(r.int(10), r.normal()); // an integer in [0, 10), a standard normal sample
 * ```
 */
export function rng(seed: number): Rng {
  const sm = splitmix32(Math.floor(seed) ^ Math.floor(seed / 2 ** 32));
  const s = new Uint32Array([sm(), sm(), sm(), sm()]);
  const next = (): number => {
    const result = Math.imul((Math.imul(s[1], 5) << 7) | (Math.imul(s[1], 5) >>> 25), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 11) | (s[3] >>> 21);
    return result;
  };
  const self: Rng = {
    uniform: () => {
      // 53 random bits: 27 from one draw, 26 from another.
      const a = next() >>> 5, b = next() >>> 6;
      return (a * 67108864 + b) / 9007199254740992;
    },
    normal: () => {
      let u = 0;
      while (u === 0) u = self.uniform();
      const v = self.uniform();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    int: (n: number) => Math.floor(self.uniform() * n),
    split: () => rng(next() * 4294967296 + next()),
    get state() {
      return [...s];
    },
    set state(v: number[]) {
      s.set(v.map((x) => x >>> 0));
    },
  };
  return self;
}

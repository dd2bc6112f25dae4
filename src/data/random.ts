/**
 * A tiny seeded pseudo-random generator (mulberry32) and helpers built on it.
 *
 * @module
 */

/**
 * Returns a deterministic pseudo-random generator (mulberry32) of floats in `[0, 1)`.
 * The same seed always gives the same sequence. The seed is reduced to 32 bits.
 *
 * @param seed Any finite number; it is truncated to a 32-bit integer.
 * @returns A function that returns the next float in `[0, 1)`.
 *
 * @example
 * ```ts
 * import { seededRandom } from "@lossforge/core";
 * const next = seededRandom(42);
 * console.log(next(), next()); // 0.6011037519201636 0.44829055899754167, every run
 * ```
 */
export function seededRandom(seed: number): () => number {
  if (!Number.isFinite(seed)) {
    throw new RangeError(`seededRandom: seed must be finite, got ${seed}`);
  }
  let state = Math.trunc(seed) | 0;
  return (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A uniform random integer in `[lo, hi]` (both inclusive) drawn from `rng`.
 *
 * @example
 * ```ts
 * import { randomInt, seededRandom } from "@lossforge/core";
 * const rng = seededRandom(1);
 * console.log([randomInt(rng, 1, 6), randomInt(rng, 1, 6), randomInt(rng, 1, 6)]); // [4, 1, 4]
 * ```
 */
export function randomInt(rng: () => number, lo: number, hi: number): number {
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) {
    throw new RangeError(`randomInt: need integers lo <= hi, got lo=${lo}, hi=${hi}`);
  }
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/**
 * Shuffles `items` in place (Fisher-Yates) using `rng`, and returns the same array.
 *
 * @example
 * ```ts
 * import { seededRandom, shuffleInPlace } from "@lossforge/core";
 * console.log(shuffleInPlace([1, 2, 3, 4], seededRandom(42))); // [1, 4, 2, 3]
 * ```
 */
export function shuffleInPlace<T>(items: T[], rng: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
  return items;
}

/**
 * Derives a new 32-bit seed from a seed and a label (FNV-1a over the label, mixed with the
 * seed), so that independent streams (e.g. "train" and "test") get unrelated seeds.
 *
 * @example
 * ```ts
 * import { deriveSeed, seededRandom } from "@lossforge/core";
 * // One run seed, two unrelated streams.
 * const trainRng = seededRandom(deriveSeed(42, "train"));
 * const testRng = seededRandom(deriveSeed(42, "test"));
 * console.log(trainRng() !== testRng()); // true
 * console.log(deriveSeed(42, "train"), deriveSeed(42, "test")); // 124308481 3873100590
 * ```
 */
export function deriveSeed(seed: number, label: string): number {
  let h = (Math.trunc(seed) ^ 0x811c9dc5) >>> 0;
  h = Math.imul(h, 0x01000193) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // final avalanche (murmur3 fmix32)
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

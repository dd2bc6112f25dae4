/**
 * The held-out validation split the paper keeps where a dataset has none: 10% of train,
 * picked by a seeded shuffle (seed 42).
 *
 * @module
 */

import { seededRandom, shuffleInPlace } from "./random.ts";

/**
 * Indices of the train records that form a held-out validation split (GSM8K, HellaSwag):
 * `round(n * fraction)` indices chosen by a seeded Fisher-Yates shuffle, in ascending order.
 *
 * @param n Number of train records.
 * @param fraction Fraction to hold out, in `[0, 1)`.
 * @param seed Shuffle seed.
 * @returns A sorted array of distinct indices in `[0, n)`.
 *
 * @example
 * ```ts
 * import { validationIndices } from "@lossforge/core";
 * console.log(validationIndices(20, 0.1, 42)); // [0, 13]
 * ```
 */
export function validationIndices(n: number, fraction: number, seed: number): number[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`validationIndices: bad n = ${n}`);
  if (!(fraction >= 0 && fraction < 1)) {
    throw new RangeError(`validationFraction must be in [0, 1), got ${fraction}`);
  }
  const order = shuffleInPlace(Array.from({ length: n }, (_, i) => i), seededRandom(seed));
  return order.slice(0, Math.round(n * fraction)).sort((a, b) => a - b);
}

/**
 * The matmul products of the flagship model's training step (dim 96, MLP 384, attention at 4
 * heads of 24 over 128 tokens, batch 16), shared by the benchmarks that compare kernels on them.
 * @module
 */

/** [batch, m, k, n, transA, transB]. */
export type Product = [number, number, number, number, boolean, boolean];

/** Linear layers (forward and both backward products) and attention's batched products. */
export const TRAINING_PRODUCTS: Product[] = [
  [16, 128, 96, 384, false, false],
  [16, 128, 384, 96, false, true],
  [16, 96, 128, 384, true, false],
  [64, 128, 24, 128, false, true],
  [64, 128, 128, 24, false, false],
  [64, 24, 128, 128, true, false],
];

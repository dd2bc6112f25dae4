/**
 * Every op, as free functions. `Tensor` methods call these.
 * @module
 */
export { fullLike, onesLike, zerosLike } from "./core.ts";
export {
  abs,
  add,
  cos,
  div,
  eq,
  exp,
  floor,
  ge,
  gelu,
  gt,
  le,
  log,
  lt,
  maximum,
  minimum,
  mul,
  ne,
  neg,
  pow,
  recip,
  relu,
  rsqrt,
  sigmoid,
  sign,
  silu,
  sin,
  sqrt,
  square,
  step,
  sub,
  tanh,
  where,
} from "./elementwise.ts";
export { cast, cumsum } from "./misc.ts";
export { argmax, type Axis, logsumexp, max, mean, min, sum } from "./reduce.ts";
export { logSoftmax, softmax } from "./softmax.ts";
export { matmul, type MatmulOptions, matmulT } from "./matmul.ts";
export {
  concat,
  expand,
  permute,
  reshape,
  slice,
  squeeze,
  stack,
  transpose,
  unsqueeze,
} from "./shape_ops.ts";
export { embedding, gather, oneHot, scatterAdd, take } from "./index_ops.ts";
export { argsort, sort } from "./sort.ts";
export { fusedLayerNorm } from "./norm.ts";
export {
  type AttentionOpOptions,
  scaledDotProductAttention,
  setFusedAttention,
} from "./attention.ts";

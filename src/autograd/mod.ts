/**
 * Tensors and reverse-mode autograd: creation, ops, `grad` / `valueAndGrad` / `vjp`,
 * `noGrad`, `customGrad`, `scope`, parameter trees and backends.
 * @module
 */
import "../backends.ts";
export * from "./ops/mod.ts";
export {
  type AttentionSpec,
  type Backend,
  backendInstance,
  type BackendName,
  type BinaryOp,
  currentBackendName,
  ensureBackend,
  getBackend,
  getBackendImpl,
  initBackend,
  type Layout,
  type MatmulSpec,
  type ReduceOp,
  registerBackend,
  registerBackendFactory,
  registerDefaultBackendRule,
  setBackend,
  type UnaryOp,
} from "./backend.ts";
export { computeDtype, type DType, type HalfDType, isHalf, type TypedArray } from "./dtype.ts";
export { BackendError, DTypeError, LossforgeError, ShapeError, ValueError } from "./errors.ts";
export {
  fusedOpsEnabled,
  type FusedPath,
  type FusedPolicy,
  fusedPolicy,
  setFusedOps,
} from "./fused.ts";
export {
  arange,
  eye,
  full,
  ones,
  rand,
  randn,
  type RandomOptions,
  seed,
  tensor,
  type TensorDataOptions,
  type TensorOptions,
  zeros,
} from "./create.ts";
export { type Rng, rng } from "./rng.ts";
export { keep, scope } from "./scope.ts";
export {
  customGrad,
  grad,
  isRecording,
  noGrad,
  stopGradient,
  sumToShape,
  valueAndGrad,
  vjp,
} from "./tape.ts";
export { liveTensors, type NestedArray, type TapeNode, Tensor, type TensorLike } from "./tensor.ts";
export {
  type Tree,
  treeDispose,
  treeLeaves,
  treeLeavesWithPaths,
  treeMap,
  treeMapWithPath,
  type TreeOf,
} from "./tree.ts";

/**
 * What every layer and model shares: the `{ init, apply }` shape, the context passed down
 * a forward pass, and a helper for constants that must live beside the parameters.
 * @module
 */
import { computeDtype, type DType, type Rng, type Tensor, tensor } from "../autograd/mod.ts";
import type { ParamTree } from "./params.ts";

/**
 * Called after every named linear projection with its input and output; returns the
 * output to use. LoRA adds its low-rank update through this hook, so models need no
 * LoRA-specific code.
 *
 * @example
 * ```ts
 * import { type LinearHook, llama, rng, tensor } from "@lossforge/core";
 * const seen: string[] = [];
 * const record: LinearHook = (name, _x, y) => (seen.push(name), y);
 * const model = llama({ vocab: 32, dim: 16, layers: 1, heads: 2, hidden: 32 });
 * model.apply(model.init(rng(0)), tensor([[1, 2]], { dtype: "int32" }), { adapt: record });
 * console.log(seen[0], seen.length); // "model.layers.0.self_attn.q_proj" 8
 * ```
 */
export type LinearHook = (name: string, x: Tensor, y: Tensor, ctx: ForwardContext) => Tensor;

/**
 * Per-call options of a forward pass. `training` turns dropout on (it then needs `rng`).
 *
 * @example
 * ```ts
 * import { dropout, type ForwardContext, ones, rng } from "@lossforge/core";
 * const drop = dropout(0.5);
 * const training: ForwardContext = { training: true, rng: rng(0) };
 * console.log(await drop.apply({}, ones([4]), training).data()); // each 0 or 2
 * console.log(await drop.apply({}, ones([4]), {}).data()); // [1, 1, 1, 1]
 * ```
 */
export interface ForwardContext {
  /** Training mode: dropout is active. */
  training?: boolean;
  /** The generator dropout draws its masks from (required when training with dropout). */
  rng?: Rng;
  /** A hook run after each named linear projection (see `LinearHook`). */
  adapt?: LinearHook;
  /** The Hugging Face name of the module being applied (`model.layers.0.self_attn`). */
  prefix?: string;
}

/**
 * A layer or model as a pair of pure functions: `init` makes a parameter tree, `apply`
 * computes with one.
 *
 * @example
 * ```ts
 * import { linear, rng, zeros } from "@lossforge/core";
 * const layer = linear({ inDim: 3, outDim: 2 });
 * const params = layer.init(rng(0));
 * console.log(layer.apply(params, zeros([5, 3])).shape); // [5, 2]
 * ```
 */
export interface Module<P extends ParamTree, I = Tensor, O = Tensor, C = ForwardContext> {
  /** Fresh parameters drawn from `rng`. */
  init(rng: Rng): P;
  /** The layer's output for `input`. */
  apply(params: P, input: I, ctx?: C): O;
}

/**
 * A constant tensor on `like`'s backend (default: with the dtype it computes in, float32 for
 * a half-precision weight), so masks and tables built on the host meet the parameters
 * wherever those live.
 *
 * @example
 * ```ts
 * import { tensor } from "@lossforge/core";
 * import { constantLike } from "./module.ts";
 * const mask = constantLike([0, -1e9], [1, 2], tensor([1], { dtype: "float64" })); // float64
 * ```
 */
export function constantLike(
  data: Float64Array | Float32Array | Int32Array | number[],
  shape: readonly number[],
  like: Tensor,
  dtype: DType = computeDtype(like.dtype),
): Tensor {
  return tensor(data, { shape, dtype, backend: like.backend.name });
}

/**
 * `prefix.name`, or `name` when there is no prefix.
 *
 * @example
 * ```ts
 * import { joinName } from "./module.ts";
 * console.log(joinName("model.layers.0.mlp", "up_proj")); // "model.layers.0.mlp.up_proj"
 * ```
 */
export function joinName(prefix: string | undefined, name: string): string {
  if (!name) return prefix ?? "";
  return prefix ? `${prefix}.${name}` : name;
}

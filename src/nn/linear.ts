/**
 * Fully connected layers in both weight layouts Hugging Face uses: `nn.Linear` stores
 * `[out, in]` (so y = x Wᵀ + b, computed with a transposed-operand matmul rather than a
 * copied transpose) and GPT-2's `Conv1D` stores `[in, out]` (y = x W + b).
 * @module
 */
import { type DType, matmul, randn, type Rng, type Tensor, zeros } from "../autograd/mod.ts";
import { type ForwardContext, joinName, type Module } from "./module.ts";

/**
 * Weight layout: `"out_in"` (torch `nn.Linear`) or `"in_out"` (GPT-2 `Conv1D`).
 *
 * @example
 * ```ts
 * import { linearForward, ones, type WeightLayout } from "@lossforge/core";
 * // GPT-2's Conv1D stores its weight [in, out]: here 3 inputs, 2 outputs.
 * const layout: WeightLayout = "in_out";
 * console.log(linearForward({ weight: ones([3, 2]) }, ones([1, 3]), layout).shape); // [1, 2]
 * ```
 */
export type WeightLayout = "out_in" | "in_out";

/**
 * A linear layer's parameters.
 *
 * @example
 * ```ts
 * import { linear, type LinearParams, rng } from "@lossforge/core";
 * const p: LinearParams = linear({ inDim: 3, outDim: 2 }).init(rng(0));
 * console.log(p.weight.shape, p.bias?.shape); // [2, 3] [2]
 * ```
 */
export type LinearParams = { weight: Tensor; bias?: Tensor };

/**
 * Options of `linear`.
 *
 * @example
 * ```ts
 * import { linear, rng } from "@lossforge/core";
 * const p = linear({ inDim: 4, outDim: 8, bias: false }).init(rng(0));
 * console.log(Object.keys(p), p.weight.shape); // ["weight"] [8, 4]
 * ```
 */
export interface LinearOptions {
  /** Input features. */
  inDim: number;
  /** Output features. */
  outDim: number;
  /** Whether to add a bias (default true). */
  bias?: boolean;
  /** Weight layout (default `"out_in"`). */
  layout?: WeightLayout;
  /** Standard deviation of the normal initialiser (default 0.02, as GPT-2 and Llama). */
  std?: number;
  /** Parameter dtype (default float32). */
  dtype?: DType;
}

/**
 * x W (+ b) for `x` of shape `[..., in]`, in either layout.
 *
 * @example
 * ```ts
 * import { linearForward, ones } from "@lossforge/core";
 * const y = linearForward({ weight: ones([2, 3]) }, ones([1, 3]), "out_in");
 * console.log(await y.data()); // [3, 3]
 * ```
 */
export function linearForward(p: LinearParams, x: Tensor, layout: WeightLayout): Tensor {
  const y = matmul(x, p.weight, { transposeB: layout === "out_in" });
  return p.bias ? y.add(p.bias) : y;
}

/**
 * A named projection inside a model: `linearForward` followed by the context's hook (how
 * LoRA adapters join in).
 *
 * @example
 * ```ts
 * import { ones, project } from "@lossforge/core";
 * const y = project({ weight: ones([2, 3]) }, ones([1, 3]), "out_in", "q_proj", {});
 * console.log(y.shape); // [1, 2]
 * ```
 */
export function project(
  p: LinearParams,
  x: Tensor,
  layout: WeightLayout,
  name: string,
  ctx: ForwardContext,
): Tensor {
  const y = linearForward(p, x, layout);
  return ctx.adapt ? ctx.adapt(joinName(ctx.prefix, name), x, y, ctx) : y;
}

/**
 * A normal(0, std) weight in the given layout.
 *
 * @example
 * ```ts
 * import { rng } from "@lossforge/core";
 * import { initWeight } from "./linear.ts";
 * console.log(initWeight(rng(0), 3, 2, "out_in", 0.02).shape); // [2, 3]
 * ```
 */
export function initWeight(
  rng: Rng,
  inDim: number,
  outDim: number,
  layout: WeightLayout,
  std: number,
  dtype: DType = "float32",
): Tensor {
  const shape = layout === "out_in" ? [outDim, inDim] : [inDim, outDim];
  return randn(shape, { rng, std, dtype });
}

/**
 * A fully connected layer: `{ weight, bias? }` with weight `[out, in]` (or `[in, out]`).
 *
 * @example
 * ```ts
 * import { linear, rng, zeros } from "@lossforge/core";
 * const layer = linear({ inDim: 3, outDim: 2 });
 * console.log(layer.apply(layer.init(rng(0)), zeros([4, 3])).shape); // [4, 2]
 * ```
 */
export function linear(opts: LinearOptions): Module<LinearParams> {
  const layout = opts.layout ?? "out_in";
  return {
    init(rng: Rng): LinearParams {
      const weight = initWeight(rng, opts.inDim, opts.outDim, layout, opts.std ?? 0.02, opts.dtype);
      return opts.bias === false
        ? { weight }
        : { weight, bias: zeros([opts.outDim], { dtype: opts.dtype }) };
    },
    apply(params: LinearParams, x: Tensor, ctx: ForwardContext = {}): Tensor {
      return ctx.adapt ? project(params, x, layout, "", ctx) : linearForward(params, x, layout);
    },
  };
}

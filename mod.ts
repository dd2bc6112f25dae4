/**
 * lossforge: train and fine-tune models in TypeScript on Deno. A reverse-mode autograd
 * engine with a CPU reference backend and a WebGPU backend, a zoo of segmentation losses
 * for language-model fine-tuning, and a declarative pipeline DSL.
 *
 * @example
 * ```ts
 * import { grad, type Tensor, tensor } from "@lossforge/core";
 * const g = grad((x: Tensor) => x.mul(x).sum())(tensor([1, 2, 3]));
 * console.log(await g.array()); // [2, 4, 6]
 * ```
 * @module
 */
export * from "./src/autograd/mod.ts";
export * from "./src/cpu/mod.ts";
export * from "./src/gpu/mod.ts";
export * from "./src/losses/mod.ts";
export * from "./src/nn/mod.ts";
export * from "./src/optim/mod.ts";
export * from "./src/data/mod.ts";
export * from "./src/tokenizers/mod.ts";
export * from "./src/dsl/mod.ts";

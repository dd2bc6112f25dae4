/**
 * Matmul on WebGPU: the generated kernels (`kernels.ts`, `big.ts`), the table of tuned
 * choices (`table.ts`), the tuner (`tune.ts`) and the table's file (`tuning_file.ts`). This
 * module is the folder's public face; the backend calls `matmul` from `kernels.ts`.
 * @module
 */
export {
  clearMatmulTuning,
  type MatmulTile,
  matmulTuning,
  type MatmulTuningEntry,
  type MatmulTuningMeasure,
} from "./table.ts";
export { type MatmulShape, tuneMatmul, type TuneMatmulOptions } from "./tune.ts";
export { loadMatmulTuning, type MatmulTuningLoad, saveMatmulTuning } from "./tuning_file.ts";

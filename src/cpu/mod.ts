/**
 * The CPU reference backend. Importing this module registers it (it is the default backend
 * until another is chosen).
 * @module
 */
import { registerBackend } from "../autograd/backend.ts";
import { cpuBackend } from "./backend.ts";

export { cpuBackend } from "./backend.ts";
export { cpuThreads, setCpuThreads } from "./simd_matmul.ts";

registerBackend(cpuBackend());

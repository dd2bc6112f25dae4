/**
 * The backends every public entry point registers: the CPU backend, and the WebGPU backend's
 * factory and default rule. Registering only defines: nothing is probed or created until a
 * backend is chosen (`setBackend`, `ensureBackend`, or a tensor's first use), so each subpath
 * of the package (`@lossforge/core/losses`, `/nn`, ...) works when imported alone.
 *
 * @module
 */
import "./cpu/mod.ts";
import "./gpu/mod.ts";

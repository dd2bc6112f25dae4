/**
 * The switch for fused fast paths inside the engine (fused GELU, layer norm, attention
 * softmax and the like). They compute the same values as the composed ops they replace; turning
 * them off (`LOSSFORGE_FUSED=0` in the environment, or `setFusedOps(false)`) runs the
 * composed reference path, which benchmarks and tests compare against.
 * @module
 */

function fromEnv(): boolean {
  try {
    const perm = Deno.permissions.querySync({ name: "env", variable: "LOSSFORGE_FUSED" });
    if (perm.state !== "granted") return true;
    return Deno.env.get("LOSSFORGE_FUSED") !== "0";
  } catch {
    return true;
  }
}

let enabled = fromEnv();

/** Whether fused fast paths are used (default true; `LOSSFORGE_FUSED=0` turns them off). */
export function fusedOpsEnabled(): boolean {
  return enabled;
}

/** Turns fused fast paths on or off (for comparisons against the composed path). */
export function setFusedOps(on: boolean): void {
  enabled = on;
}

/**
 * The one policy for fused fast paths: every fused kernel (fused GELU and softmax backward,
 * layer norm, attention, the global norm's sum of squares, the AdamW update and the loss
 * kernels) asks `fusedPolicy` before it runs. A fused path computes the same values as the
 * composed ops it replaces; turning the policy off (`LOSSFORGE_FUSED=0` in the environment,
 * or `setFusedOps(false)`) runs the composed reference path everywhere, which benchmarks and
 * tests compare against.
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

/**
 * The fused paths that consult the policy (what `fusedPolicy.choose` is told, so that a test
 * or a benchmark can see which paths asked).
 *
 * @example
 * ```ts
 * import { type FusedPath, fusedPolicy } from "@lossforge/core";
 * const report = (paths: FusedPath[]) => paths.map((p) => `${p}: ${fusedPolicy.choose(p)}`);
 * console.log(report(["attention", "loss"])); // ["attention: true", "loss: true"] by default
 * ```
 */
export type FusedPath =
  | "attention"
  | "layerNorm"
  | "softmaxGrad"
  | "geluGrad"
  | "globalNorm"
  | "adamw"
  | "loss";

/**
 * The policy object: `enabled` is the global switch (default true; `LOSSFORGE_FUSED=0`
 * turns it off) and `choose` the decision every fused path makes with it.
 *
 * @example
 * ```ts
 * import { fusedPolicy } from "@lossforge/core";
 * // A loss asked for its fused kernel (`fused: true`): the policy still has the last word.
 * console.log(fusedPolicy.choose("loss", true) === fusedPolicy.enabled); // true
 * ```
 */
export interface FusedPolicy {
  /** Whether fused kernels may run at all. */
  enabled: boolean;
  /**
   * Whether the fused path `path` runs: never while the policy is off; otherwise as the
   * caller asked (`requested`, e.g. a loss's `fused` option), or `byDefault` (default true)
   * when it did not ask. Callers add their own conditions (dtype, backend, shapes).
   */
  choose(path: FusedPath, requested?: boolean, byDefault?: boolean): boolean;
}

/**
 * The process-wide fused policy (see FusedPolicy).
 *
 * @example
 * ```ts
 * import { fusedPolicy, setFusedOps } from "@lossforge/core";
 * // How a fused path decides: as its caller asked, unless the policy is off.
 * console.log(fusedPolicy.choose("attention")); // true: the default
 * console.log(fusedPolicy.choose("attention", false)); // false: the caller said no
 * setFusedOps(false); // as LOSSFORGE_FUSED=0
 * console.log(fusedPolicy.choose("attention", true)); // false
 * setFusedOps(true);
 * ```
 */
export const fusedPolicy: FusedPolicy = {
  enabled: fromEnv(),
  choose(_path: FusedPath, requested?: boolean, byDefault = true): boolean {
    return this.enabled && (requested ?? byDefault);
  },
};

/**
 * Whether fused fast paths are used (default true; `LOSSFORGE_FUSED=0` turns them off): the
 * policy's switch, `fusedPolicy.enabled`.
 *
 * @example
 * ```ts
 * import { fusedOpsEnabled } from "@lossforge/core";
 * // false under LOSSFORGE_FUSED=0 or after setFusedOps(false).
 * console.log(fusedOpsEnabled() ? "fused kernels may run" : "composed ops only");
 * ```
 */
export function fusedOpsEnabled(): boolean {
  return fusedPolicy.enabled;
}

/**
 * Turns every fused fast path on or off (for comparisons against the composed path): sets
 * `fusedPolicy.enabled`.
 *
 * @example
 * ```ts
 * import { fusedOpsEnabled, setFusedOps } from "@lossforge/core";
 * setFusedOps(false); // everything below runs composed ops
 * setFusedOps(true);
 * console.log(fusedOpsEnabled()); // true
 * ```
 */
export function setFusedOps(on: boolean): void {
  fusedPolicy.enabled = on;
}

/**
 * Deterministic memory release: `scope(fn)` frees every tensor created inside `fn` that is
 * not part of what `fn` returns.
 * @module
 */
import type { Tensor } from "./tensor.ts";

const stack: Set<Tensor>[] = [];

/** Called by the Tensor constructor: the tensor belongs to the innermost open scope. */
export function trackInScope(t: Tensor): void {
  if (stack.length) stack[stack.length - 1].add(t);
}

/** Removes a tensor from every open scope (it must survive them all). */
export function untrack(t: Tensor): void {
  for (const s of stack) s.delete(t);
}

/**
 * @internal Runs `fn` and adds every tensor it creates to `into`. They stay tracked by the
 * enclosing scope as well (`vjp` uses this to free its intermediates on `dispose`).
 */
export function trackCreated<T>(fn: () => T, into: Set<Tensor>): T {
  const mine = new Set<Tensor>();
  stack.push(mine);
  try {
    return fn();
  } finally {
    stack.pop();
    for (const t of mine) {
      into.add(t);
      trackInScope(t);
    }
  }
}

function collect(value: unknown, out: Set<Tensor>, seen: Set<unknown>): void {
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  if ((value as { _isTensor?: boolean })._isTensor) {
    out.add(value as Tensor);
    return;
  }
  if (Array.isArray(value)) { for (const v of value) collect(v, out, seen); }
  else if (value instanceof Map) { for (const v of value.values()) collect(v, out, seen); }
  else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, seen);
  }
}

/**
 * Runs `fn` and disposes every tensor it created that is not reachable from its return
 * value (tensors inside returned arrays, plain objects and Maps are kept and handed to the
 * enclosing scope). `fn` must be synchronous: a training step's tensor work is.
 *
 * @example
 * ```ts
 * import { liveTensors, scope, tensor } from "@lossforge/core";
 * const x = tensor([1, 2, 3]);
 * const before = liveTensors();
 * const y = scope(() => x.mul(2).add(1).sum());
 * console.log(liveTensors() - before); // 1: only y survives
 * ```
 */
export function scope<T>(fn: () => T): T {
  const mine = new Set<Tensor>();
  stack.push(mine);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of mine) t.dispose();
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) {
    for (const t of mine) trackInScope(t);
    throw new TypeError("scope: fn returned a Promise; scope takes synchronous functions");
  }
  const keep = new Set<Tensor>();
  collect(result, keep, new Set());
  for (const t of mine) {
    if (keep.has(t)) trackInScope(t);
    else t.dispose();
  }
  return result;
}

/**
 * Takes tensors out of every open scope so they outlive them (for example parameters
 * created inside a scope on purpose). Returns its argument.
 *
 * @example
 * ```ts
 * import { keep, scope, tensor } from "@lossforge/core";
 * let w = tensor([0]);
 * scope(() => { w = keep(tensor([1, 2])); });
 * console.log(w.shape); // [2]
 * ```
 */
export function keep<T>(value: T): T {
  const found = new Set<Tensor>();
  collect(value, found, new Set());
  for (const t of found) untrack(t);
  return value;
}

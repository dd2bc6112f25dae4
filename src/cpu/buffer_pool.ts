/**
 * A pool of the CPU backend's freed typed arrays, reused by the next allocation of the same
 * dtype and length. A fresh typed array costs the kernel's zeroed pages (measured 6-23 ns an
 * element against 0.6 for a multiply into a reused array), and a training step allocates the
 * same shapes every time, so nearly every allocation after the first step is a hit.
 *
 * A pooled array keeps its old contents: every primitive writes each element of its output,
 * so none reads what was there. Only arrays the pool made itself come back into it: an array
 * a caller handed the backend (`adopt`, a view into a file's bytes) may still be seen by
 * its owner. The pool holds at most `cpuPoolLimits.bytes`; past that the lengths used least
 * recently are dropped (left to the garbage collector). Reuse also keeps the process's
 * resident memory flat: a training step's arrays come back each step instead of piling up
 * as garbage between collections.
 * @module
 */
import { allocArray, type DType, type TypedArray } from "../autograd/dtype.ts";

/** The pool's size (tests lower it to exercise eviction). */
export const cpuPoolLimits = {
  /** Bytes of freed arrays the pool keeps, per backend instance. */
  bytes: 512 << 20,
};

/**
 * Tests set `poison`: each array given back is first filled with NaN (int32: the largest
 * int32, half bits: a NaN pattern), so a primitive that read a reused array's old contents
 * would change its results.
 */
export const cpuPoolDebug = { poison: false };

/** Takes and gives back arrays; `bytes()` is what it holds now. */
export interface BufferPool {
  /** An array of `n` elements of `dtype`: a pooled one (old contents) or a new one (zeros). */
  take(dtype: DType, n: number): TypedArray;
  /** Keeps `a` for reuse if the pool made it (the caller must not touch it again). */
  give(a: TypedArray): void;
  /** Bytes held. */
  bytes(): number;
}

/** The typed array class each dtype is stored in (half dtypes share Uint16Array). */
const STORAGE: Record<DType, string> = {
  float32: "Float32Array",
  float64: "Float64Array",
  int32: "Int32Array",
  bfloat16: "Uint16Array",
  float16: "Uint16Array",
};

/**
 * A new, empty pool. Keys are dtype and length; a Map's insertion order is the recency
 * order (a key is moved to the end on each use), so eviction drops from the front.
 */
export function bufferPool(): BufferPool {
  const free = new Map<string, TypedArray[]>();
  const own = new WeakSet<TypedArray>();
  // Arrays in the lists now: a second free of one must not hand it out twice.
  const idle = new WeakSet<TypedArray>();
  let held = 0;
  const touch = (key: string, list: TypedArray[]) => {
    free.delete(key);
    free.set(key, list);
  };
  return {
    take(dtype, n) {
      const key = `${STORAGE[dtype]}:${n}`;
      const list = free.get(key);
      const a = list?.pop();
      if (!a) {
        const fresh = allocArray(dtype, n);
        own.add(fresh);
        return fresh;
      }
      idle.delete(a);
      held -= a.byteLength;
      touch(key, list!);
      return a;
    },
    give(a) {
      if (!own.has(a) || idle.has(a) || a.byteLength > cpuPoolLimits.bytes) return;
      idle.add(a);
      if (cpuPoolDebug.poison) {
        a.fill(a instanceof Uint16Array ? 0x7fff : a instanceof Int32Array ? 0x7fffffff : NaN);
      }
      const key = `${a.constructor.name}:${a.length}`;
      const list = free.get(key) ?? [];
      list.push(a);
      touch(key, list);
      held += a.byteLength;
      for (const [k, l] of free) {
        if (held <= cpuPoolLimits.bytes) break;
        while (l.length && held > cpuPoolLimits.bytes) {
          const dropped = l.shift()!;
          idle.delete(dropped);
          own.delete(dropped);
          held -= dropped.byteLength;
        }
        if (!l.length) free.delete(k);
      }
    },
    bytes: () => held,
  };
}

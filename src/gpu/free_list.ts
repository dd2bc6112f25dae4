/**
 * The idle buffers of one pool size class, handed out lowest id first (a binary min-heap).
 *
 * Why not a stack: bind groups are cached by the ids of the buffers they bind, and a training
 * step frees and allocates in the same order every time. Handed out last-freed first, the
 * buffers a step gets depend on which ones the previous step happened to free last, so the
 * ids drift from step to step and nearly every dispatch needs a new bind group (measured: 170
 * of 212 per step of a small GPT). Each is a native object freed only when V8 collects its
 * wrapper, so host memory climbed by tens of MiB before settling. Lowest id first makes the
 * buffers a step receives a function of the set that is idle, so steps repeat their ids and
 * the cache hits.
 * @module
 */

/**
 * A min-heap of items by their `id`.
 *
 * @example
 * ```ts
 * import { FreeList } from "./free_list.ts";
 * const f = new FreeList<{ id: number }>();
 * for (const id of [5, 2, 9]) f.push({ id });
 * console.log(f.pop()?.id, f.pop()?.id, f.size); // 2 5 1
 * ```
 */
export class FreeList<T extends { readonly id: number }> {
  private readonly heap: T[] = [];

  /** Items held. */
  get size(): number {
    return this.heap.length;
  }

  /** Adds an item. */
  push(item: T): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (h[up].id <= item.id) break;
      h[i] = h[up];
      i = up;
    }
    h[i] = item;
  }

  /** Removes and returns the item with the lowest id (undefined when empty). */
  pop(): T | undefined {
    return this.heap.length ? this.removeAt(0) : undefined;
  }

  /** Removes and returns the lowest-id item for which `ok` holds (undefined when none). */
  popWhere(ok: (item: T) => boolean): T | undefined {
    const h = this.heap;
    let best = -1;
    for (let i = 0; i < h.length; i++) {
      if ((best < 0 || h[i].id < h[best].id) && ok(h[i])) best = i;
    }
    return best < 0 ? undefined : this.removeAt(best);
  }

  /** Every item, in no particular order. */
  values(): readonly T[] {
    return this.heap;
  }

  private removeAt(i: number): T {
    const h = this.heap;
    const out = h[i];
    const last = h.pop()!;
    if (i === h.length) return out;
    // Put the last item in the hole, then move it up or down until the heap order holds.
    while (i > 0 && h[(i - 1) >> 1].id > last.id) {
      h[i] = h[(i - 1) >> 1];
      i = (i - 1) >> 1;
    }
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i, mid = last.id;
      if (l < h.length && h[l].id < mid) [m, mid] = [l, h[l].id];
      if (r < h.length && h[r].id < mid) m = r;
      if (m === i) break;
      h[i] = h[m];
      i = m;
    }
    h[i] = last;
    return out;
  }
}

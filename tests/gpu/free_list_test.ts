// The pool's free list hands out the lowest id first, whatever the order of pushes and pops.
import fc from "fast-check";
import { FreeList } from "../../src/gpu/free_list.ts";

Deno.test("FreeList: pop and popWhere return the lowest (matching) id, like a sorted list", () => {
  const op = fc.oneof(
    fc.record({ push: fc.integer({ min: 0, max: 50 }) }),
    fc.constant({ pop: true }),
    fc.record({ odd: fc.constant(true) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const f = new FreeList<{ id: number }>();
      const ref: number[] = [];
      for (const o of ops) {
        if ("push" in o) {
          f.push({ id: o.push });
          ref.push(o.push);
          ref.sort((a, b) => a - b);
          continue;
        }
        const want = "pop" in o ? 0 : ref.findIndex((x) => x % 2 === 1);
        const got = "pop" in o ? f.pop() : f.popWhere((x) => x.id % 2 === 1);
        const expected = want >= 0 && want < ref.length ? ref.splice(want, 1)[0] : undefined;
        if (got?.id !== expected) throw new Error(`got ${got?.id}, expected ${expected}`);
        if (f.size !== ref.length) throw new Error(`size ${f.size}, expected ${ref.length}`);
      }
      const rest = f.values().map((x) => x.id).sort((a, b) => a - b);
      if (rest.join() !== ref.join()) throw new Error(`left ${rest}, expected ${ref}`);
    }),
    { numRuns: 300 },
  );
});

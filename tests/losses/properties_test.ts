// Properties every class-scored loss must have, run on the CPU backend in float64.
import fc from "fast-check";
import { ShapeError, type Tensor, tensor, ValueError } from "../../mod.ts";
import { assert, assertClose, assertThrows } from "../_assert.ts";
import { gradcheck } from "../_gradcheck.ts";
import { frozenGradcheck } from "./_frozen.ts";
import {
  f64,
  GRAD_RUNS,
  i32,
  LOSSES,
  lovaszGap,
  permuteProblem,
  problems,
  RUNS,
  tensorsOf,
  valueAndGradOn,
  valueOn,
} from "./_helpers.ts";
import type { Problem } from "./_reference.ts";

for (const c of LOSSES) {
  Deno.test(`${c.label}: equals the contract's plain-JS reference`, async () => {
    await fc.assert(
      fc.asyncProperty(problems({ mask: true, ...c.sizes }), async (p) => {
        assertClose(await valueOn(c.make(), p), c.reference(p), { rtol: 1e-9, atol: 1e-12 });
      }),
      RUNS,
    );
  });

  Deno.test(`${c.label}: float64 gradient equals central differences`, async () => {
    const loss = c.make();
    await fc.assert(
      fc.asyncProperty(problems({ maxN: 5, maxC: 4, mask: true, ...c.sizes }), async (p) => {
        // Lovász: only where the sort order is unique (no two errors within 1e-4).
        fc.pre(!c.sorts || lovaszGap(p) > 1e-4);
        if (c.frozen) return await frozenGradcheck(loss, c.frozen, p, "exclude", c.label);
        const { logits, targets, mask } = tensorsOf(p);
        await gradcheck(([z]) => loss(z, targets, { mask }), [logits], {
          tol: 1e-5,
          msg: c.label,
        });
      }),
      GRAD_RUNS,
    );
  });

  Deno.test(`${c.label}: permuting positions leaves the value unchanged`, async () => {
    const loss = c.make();
    await fc.assert(
      fc.asyncProperty(
        problems({ mask: true, ...c.sizes }).chain((p) =>
          fc.tuple(
            fc.constant(p),
            fc.shuffledSubarray(p.targets.map((_, i) => i), {
              minLength: p.targets.length,
              maxLength: p.targets.length,
            }),
          )
        ),
        async ([p, perm]) => {
          assertClose(await valueOn(loss, permuteProblem(p, perm)), await valueOn(loss, p), {
            rtol: 1e-12,
            atol: 1e-14,
          });
        },
      ),
      RUNS,
    );
  });

  Deno.test(`${c.label}: ignored positions change neither the value nor other gradients`, async () => {
    const loss = c.make();
    await fc.assert(
      fc.asyncProperty(
        problems({ ignore: false, ...c.sizes }),
        fc.array(fc.double({ min: -50, max: 50, noNaN: true }), { minLength: 9, maxLength: 9 }),
        fc.nat(),
        fc.boolean(),
        async (p, extra, at, byMask) => {
          const cls = p.logits[0].length;
          const k = at % (p.targets.length + 1);
          const withExtra: Problem = {
            logits: [...p.logits.slice(0, k), extra.slice(0, cls), ...p.logits.slice(k)],
            targets: [...p.targets.slice(0, k), byMask ? 0 : -100, ...p.targets.slice(k)],
            mask: byMask
              ? [...p.targets.map(() => 1).slice(0, k), 0, ...p.targets.map(() => 1).slice(k)]
              : undefined,
          };
          const a = await valueAndGradOn(loss, p);
          const b = await valueAndGradOn(loss, withExtra);
          assertClose(b.value, a.value, { rtol: 1e-12, atol: 1e-14 });
          const rest = [...b.grad.slice(0, k * cls), ...b.grad.slice((k + 1) * cls)];
          assertClose(rest, a.grad, { rtol: 1e-10, atol: 1e-14 });
          assertClose(b.grad.slice(k * cls, (k + 1) * cls), new Array(cls).fill(0), { atol: 0 });
        },
      ),
      RUNS,
    );
  });

  Deno.test(`${c.label}: all positions ignored gives 0 with zero gradient`, async () => {
    const loss = c.make();
    for (
      const p of [
        { logits: [[1, 2, 3], [0, -1, 5]], targets: [-100, -100] },
        { logits: [[1, 2, 3], [0, -1, 5]], targets: [0, 2], mask: [0, 0] },
      ] as Problem[]
    ) {
      const { value, grad } = await valueAndGradOn(loss, p);
      assert(value === 0, `${c.label}: value ${value}`);
      assertClose(grad, new Array(6).fill(0), { atol: 0 });
    }
  });

  if (c.bounded) {
    Deno.test(`${c.label}: values lie in [0, 1]`, async () => {
      const loss = c.make();
      await fc.assert(
        fc.asyncProperty(problems({ scale: 20, mask: true, ...c.sizes }), async (p) => {
          const v = await valueOn(loss, p);
          assert(v >= -1e-12 && v <= 1 + 1e-12, `${c.label}: ${v} outside [0, 1]`);
        }),
        RUNS,
      );
    });
  }

  if (!Number.isNaN(c.perfect)) {
    Deno.test(`${c.label}: a perfect prediction gives ${c.perfect}`, async () => {
      const loss = c.make();
      await fc.assert(
        fc.asyncProperty(problems(c.sizes), async (p) => {
          const perfect = p.targets.map((t, i) =>
            p.logits[i].map((_, k) => (k === (t === -100 ? 0 : t) ? 40 : 0))
          );
          const v = await valueOn(loss, { ...p, logits: perfect });
          const expected = p.targets.every((t) => t === -100) ? 0 : c.perfect;
          assertClose(v, expected, { atol: 1e-9, msg: c.label });
        }),
        RUNS,
      );
    });
  }

  Deno.test(`${c.label}: C = 2 and a single position`, async () => {
    const loss = c.make();
    for (const p of [{ logits: [[0.3, -1.2]], targets: [1] }, { logits: [[2, 1]], targets: [0] }]) {
      assertClose(await valueOn(loss, p), c.reference(p), { rtol: 1e-9, atol: 1e-12 });
      if (c.frozen) {
        await frozenGradcheck(loss, c.frozen, p, "exclude", c.label);
        continue;
      }
      const { logits, targets } = tensorsOf(p);
      await gradcheck(([z]) => loss(z, targets), [logits], { tol: 1e-5, msg: c.label });
    }
  });

  Deno.test(`${c.label}: logits of ±1e4 give finite values and gradients`, async () => {
    const loss = c.make();
    const p: Problem = {
      logits: [[1e4, -1e4, 0], [-1e4, 1e4, 1e4], [0, 0, -1e4], [1e4, -1e4, -1e4]],
      targets: [1, 2, 0, 0],
    };
    const { value, grad } = await valueAndGradOn(loss, p);
    assert(Number.isFinite(value), `${c.label}: value ${value}`);
    assert(grad.every(Number.isFinite), `${c.label}: gradient ${grad}`);
    // float32 too.
    const z = tensor(p.logits);
    const v32 = await loss(z, i32(p.targets)).item();
    assert(Number.isFinite(v32), `${c.label}: float32 value ${v32}`);
  });

  Deno.test(`${c.label}: NaN in the logits propagates`, async () => {
    const loss = c.make();
    const v = await valueOn(loss, { logits: [[NaN, 0, 1], [1, 2, 3]], targets: [0, 1] });
    assert(Number.isNaN(v), `${c.label}: ${v}`);
  });

  Deno.test(`${c.label}: an out-of-range target names the loss, position and value`, () => {
    const loss = c.make();
    const logits = f64([[1, 2, 3], [0, 1, 0]]);
    const name = c.label.replace(/[ (].*$/, "").replace(/^combine$/, "crossEntropy");
    for (const bad of [3, -1, 7]) {
      const e = assertThrows(() => loss(logits, i32([0, bad])), ValueError, `target ${bad}`);
      assert(e.message.includes("position [1]"), e.message);
      assert(e.message.startsWith(name), `${e.message} should name ${name}`);
    }
    const e = assertThrows(() => loss(f64([1, 2, 3, 4, 5, 6], [1, 2, 3]), i32([0, 9], [1, 2])));
    assert(e.message.includes("position [0,1]"), e.message);
  });

  Deno.test(`${c.label}: shape and dtype mistakes are ShapeError / DTypeError`, () => {
    const loss = c.make();
    const logits = f64([[1, 2, 3], [0, 1, 0]]);
    assertThrows(() => loss(logits, i32([0, 1, 2])), ShapeError, "[3]");
    const e = assertThrows(() => loss(logits, i32([0, 1, 2])), ShapeError);
    assert(e.message.includes("[2,3]"), e.message);
    assertThrows(() => loss(logits, i32([0, 1]), { mask: f64([1, 1, 1]) }), ShapeError, "mask");
    assertThrows(() => loss(logits, f64([0, 1]) as Tensor), Error, "int32");
  });
}

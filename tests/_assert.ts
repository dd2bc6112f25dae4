// Small assertion helpers: the Deno standard library is not reachable from our machines.

/** Fails with `msg` unless `cond`. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

function show(v: unknown): string {
  return Deno.inspect(v, { depth: 6, iterableLimit: 50 });
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = a as unknown as ArrayLike<number>, y = b as unknown as ArrayLike<number>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}

/** Deep equality (typed arrays element by element, NaN equals NaN). */
export function assertEquals(actual: unknown, expected: unknown, msg?: string): void {
  if (!deepEqual(actual, expected)) {
    throw new Error(
      `${msg ? msg + ": " : ""}values differ\n  actual:   ${show(actual)}\n  expected: ${
        show(expected)
      }`,
    );
  }
}

/** Every element of `actual` within atol + rtol·|expected| of `expected` (NaN matches NaN, ±Inf match). */
export function assertClose(
  actual: ArrayLike<number> | number,
  expected: ArrayLike<number> | number,
  opts: { rtol?: number; atol?: number; msg?: string } = {},
): void {
  const a = typeof actual === "number" ? [actual] : Array.from(actual);
  const e = typeof expected === "number" ? [expected] : Array.from(expected);
  const rtol = opts.rtol ?? 1e-6, atol = opts.atol ?? 1e-6;
  const pre = opts.msg ? opts.msg + ": " : "";
  if (a.length !== e.length) throw new Error(`${pre}lengths differ: ${a.length} vs ${e.length}`);
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = e[i];
    if (
      Number.isNaN(y)
        ? Number.isNaN(x)
        : !Number.isFinite(y)
        ? x === y
        : Math.abs(x - y) <= atol + rtol * Math.abs(y)
    ) {
      continue;
    }
    throw new Error(
      `${pre}element ${i} differs: ${x} vs ${y} (rtol ${rtol}, atol ${atol})\n  actual:   ${
        show(a.slice(0, 20))
      }\n  expected: ${show(e.slice(0, 20))}`,
    );
  }
}

/** `fn` throws an error of class `cls` (when given) whose message includes `includes`. */
export function assertThrows(
  fn: () => unknown,
  cls?: new (...args: never[]) => Error,
  includes?: string,
): Error {
  try {
    fn();
  } catch (e) {
    if (cls && !(e instanceof cls)) throw new Error(`expected ${cls.name}, got ${show(e)}`);
    if (includes && !(e as Error).message.includes(includes)) {
      throw new Error(
        `expected message to include ${JSON.stringify(includes)}, got ${
          JSON.stringify((e as Error).message)
        }`,
      );
    }
    return e as Error;
  }
  throw new Error("expected a throw, nothing was thrown");
}

/** Async version of assertThrows. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  cls?: new (...args: never[]) => Error,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    if (cls && !(e instanceof cls)) throw new Error(`expected ${cls.name}, got ${show(e)}`);
    if (includes && !(e as Error).message.includes(includes)) {
      throw new Error(
        `expected message to include ${JSON.stringify(includes)}, got ${
          JSON.stringify((e as Error).message)
        }`,
      );
    }
    return e as Error;
  }
  throw new Error("expected a rejection, none happened");
}

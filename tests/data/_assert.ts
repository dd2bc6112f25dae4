/**
 * Minimal assertions for the data tests (the Deno standard library is not available).
 *
 * @module
 */

/** An assertion failure. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function show(value: unknown): string {
  if (value instanceof Set) return `Set(${show([...value])})`;
  if (value instanceof Map) return `Map(${show([...value])})`;
  if (ArrayBuffer.isView(value)) {
    return `${value.constructor.name}(${show(Array.from(value as unknown as ArrayLike<unknown>))})`;
  }
  try {
    return JSON.stringify(
      value,
      (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v),
    );
  } catch {
    return String(value);
  }
}

/** Deep structural equality (arrays, typed arrays, plain objects, Sets, Maps, NaN = NaN). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Set && b instanceof Set) {
    if (a.size !== b.size) return false;
    for (const x of a) if (!b.has(x)) return false;
    return true;
  }
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k))) return false;
    return true;
  }
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = a as unknown as ArrayLike<unknown>, y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) {
      return false;
    }
  }
  return true;
}

/** Fails unless `condition` is truthy. */
export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Fails unless `actual` deep-equals `expected`. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  if (!deepEqual(actual, expected)) {
    throw new AssertionError(
      `${message ? message + ": " : ""}values differ\n  actual:   ${show(actual)}\n  expected: ${
        show(expected)
      }`,
    );
  }
}

/** Fails if `actual` deep-equals `expected`. */
export function assertNotEquals<T>(actual: T, expected: T, message?: string): void {
  if (deepEqual(actual, expected)) {
    throw new AssertionError(`${message ? message + ": " : ""}values are equal: ${show(actual)}`);
  }
}

/** Fails unless |actual - expected| <= tolerance. */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance = 1e-9,
  message?: string,
): void {
  if (!(Math.abs(actual - expected) <= tolerance)) {
    throw new AssertionError(
      `${message ? message + ": " : ""}${actual} is not within ${tolerance} of ${expected}`,
    );
  }
}

type ErrorClass = new (...args: never[]) => Error;

function checkError(e: unknown, ErrorType?: ErrorClass, includes?: string | RegExp): Error {
  if (!(e instanceof Error)) throw new AssertionError(`expected an Error, got ${show(e)}`);
  const err: Error = e;
  const { name, message } = err;
  const typeOk = ErrorType === undefined || err instanceof ErrorType;
  if (!typeOk) {
    throw new AssertionError(`expected ${ErrorType?.name}, got ${name}: ${message}`);
  }
  if (includes !== undefined) {
    const ok = typeof includes === "string"
      ? err.message.includes(includes)
      : includes.test(err.message);
    if (!ok) {
      throw new AssertionError(
        `error message ${show(err.message)} does not match ${String(includes)}`,
      );
    }
  }
  return err;
}

/** Fails unless `fn` throws (optionally a given class, with a message containing `includes`). */
export function assertThrows(
  fn: () => unknown,
  ErrorType?: ErrorClass,
  includes?: string | RegExp,
): Error {
  try {
    fn();
  } catch (e) {
    return checkError(e, ErrorType, includes);
  }
  throw new AssertionError("expected the function to throw");
}

/** Fails unless `fn` rejects (optionally a given class, with a message containing `includes`). */
export async function assertRejects(
  fn: () => Promise<unknown>,
  ErrorType?: ErrorClass,
  includes?: string | RegExp,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return checkError(e, ErrorType, includes);
  }
  throw new AssertionError("expected the promise to reject");
}

/** The real GSM8K folder if it is present, else null (and fails when CI is set). */
export async function realGsm8kDir(): Promise<string | null> {
  const dir = new URL("../../../shared/data/gsm8k", import.meta.url).pathname;
  try {
    const info = await Deno.stat(dir);
    if (info.isDirectory) return dir;
  } catch {
    // absent
  }
  if (Deno.env.get("CI")) throw new AssertionError(`CI is set but ${dir} is missing`);
  console.log(`skipping: real GSM8K folder ${dir} is absent`);
  return null;
}

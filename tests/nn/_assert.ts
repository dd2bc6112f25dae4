/** Minimal assertion helpers for tests (no std library available). */

/** Throw unless `cond` is truthy. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

function fmt(v: unknown): string {
  return Deno.inspect(v, { depth: 6, iterableLimit: 50, strAbbreviateSize: 200 });
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b)) return false;
    if (a.constructor !== b.constructor) return false;
    const x = a as unknown as ArrayLike<unknown>, y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object), kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) {
      return false;
    }
  }
  return true;
}

/** Deep structural equality (typed arrays compared element-wise with Object.is). */
export function assertEquals(actual: unknown, expected: unknown, msg?: string): void {
  if (!deepEqual(actual, expected)) {
    throw new Error(`${msg ? msg + ": " : ""}expected ${fmt(expected)}, got ${fmt(actual)}`);
  }
}

/** `fn` must throw an Error whose message contains every string in `includes`. */
export function assertThrows(fn: () => unknown, ...includes: string[]): Error {
  try {
    fn();
  } catch (e) {
    assert(e instanceof Error, `expected an Error, got ${fmt(e)}`);
    for (const s of includes) {
      assert(e.message.includes(s), `error message ${fmt(e.message)} lacks ${fmt(s)}`);
    }
    return e;
  }
  throw new Error(`expected an error containing ${fmt(includes)}, but nothing was thrown`);
}

/** `fn` must reject with an Error whose message contains every string in `includes`. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  ...includes: string[]
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    assert(e instanceof Error, `expected an Error, got ${fmt(e)}`);
    for (const s of includes) {
      assert(e.message.includes(s), `error message ${fmt(e.message)} lacks ${fmt(s)}`);
    }
    return e;
  }
  throw new Error(`expected a rejection containing ${fmt(includes)}, but none came`);
}

/** The tiny-llama fixture folder (`/work/shared/models/tiny-llama-hf/` in this tree). */
export const TINY_LLAMA_DIR: URL = new URL(
  "../../../shared/models/tiny-llama-hf/",
  import.meta.url,
);

/**
 * Whether the tiny-llama fixture is present. When it is absent, prints why the caller's
 * tests are skipped — or, when the env var CI is set, throws (CI must have the fixture).
 */
export async function haveTinyLlama(): Promise<boolean> {
  try {
    await Deno.stat(TINY_LLAMA_DIR);
    return true;
  } catch {
    if (Deno.env.get("CI")) {
      throw new Error(`fixture folder ${TINY_LLAMA_DIR.pathname} is missing and CI is set`);
    }
    console.log(`skipping tiny-llama tests: ${TINY_LLAMA_DIR.pathname} not found`);
    return false;
  }
}

/**
 * A minimal byte-level BPE tokenizer.json (256 byte symbols and an end-of-text token, no
 * merges), for model folders the tests write.
 */
export function byteLevelTokenizerJson(): unknown {
  const chars: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const keep = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars.push(String.fromCharCode(keep ? b : 256 + n++));
  }
  return {
    version: "1.0",
    added_tokens: [{
      id: 256,
      content: "<|endoftext|>",
      special: true,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
    }],
    normalizer: null,
    pre_tokenizer: {
      type: "ByteLevel",
      add_prefix_space: false,
      trim_offsets: true,
      use_regex: true,
    },
    post_processor: null,
    decoder: { type: "ByteLevel" },
    model: { type: "BPE", vocab: Object.fromEntries(chars.map((c, i) => [c, i])), merges: [] },
  };
}

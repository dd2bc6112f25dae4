// The fuzzing harness: fast-check mutations of a valid input (byte-level: truncations, flipped
// and overwritten bytes, insertions; JSON-level: a node replaced, removed or retyped), run for
// a fixed time each, with a fixed seed (FUZZ_SEED overrides it) so that a failure repeats.
// Each case must finish in CASE_MS, leave resident memory within MEMORY_BOUND of where the
// run began, and either succeed or throw one of the library's named errors whose message
// names the input.
import fc from "fast-check";
import { LossforgeError } from "../../mod.ts";

/** How long each fuzz target runs. */
export const FUZZ_MS = 2500;
/** The longest a single case may take (a slower one counts as a hang). */
export const CASE_MS = 2000;
/** Growth of resident memory allowed over a whole target (unbounded allocation fails it). */
export const MEMORY_BOUND = 512 * 2 ** 20;

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 19);

/** One byte-level change, as data (so that fast-check can print and shrink it). */
export type ByteEdit =
  | { op: "truncate"; at: number }
  | { op: "flip"; at: number; mask: number }
  | { op: "overwrite"; at: number; bytes: number[] }
  | { op: "insert"; at: number; bytes: number[] }
  | { op: "delete"; at: number; length: number };

/**
 * Byte edits. A position below 1 is a fraction of the length; `1 + i` is byte i, drawn from
 * the first `head` bytes (a file's header, where most of the parsing happens).
 */
export function byteEdits(head = 0): fc.Arbitrary<ByteEdit[]> {
  const at = fc.oneof(
    { weight: 1, arbitrary: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }) },
    { weight: head > 0 ? 2 : 0, arbitrary: fc.integer({ min: 1, max: Math.max(1, head) }) },
  );
  const bytes = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 });
  const edit: fc.Arbitrary<ByteEdit> = fc.oneof(
    fc.record({ op: fc.constant("truncate" as const), at }),
    fc.record({ op: fc.constant("flip" as const), at, mask: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ op: fc.constant("overwrite" as const), at, bytes }),
    fc.record({ op: fc.constant("insert" as const), at, bytes }),
    fc.record({
      op: fc.constant("delete" as const),
      at,
      length: fc.integer({ min: 1, max: 64 }),
    }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 4 });
}

function position(at: number, length: number): number {
  return Math.min(length, at >= 1 ? at - 1 : Math.floor(at * length));
}

/** `input` with the edits applied in order. */
export function applyBytes(input: Uint8Array, edits: readonly ByteEdit[]): Uint8Array {
  let b = input.slice();
  for (const e of edits) {
    const i = position(e.at, b.length);
    if (e.op === "truncate") b = b.slice(0, i);
    else if (e.op === "flip") {
      if (i < b.length) b[i] ^= e.mask;
    } else if (e.op === "overwrite") {
      b.set(e.bytes.slice(0, b.length - i), i);
    } else if (e.op === "insert") {
      const next = new Uint8Array(b.length + e.bytes.length);
      next.set(b.subarray(0, i));
      next.set(e.bytes, i);
      next.set(b.subarray(i), i + e.bytes.length);
      b = next;
    } else {
      b = new Uint8Array([...b.subarray(0, i), ...b.subarray(i + e.length)]);
    }
  }
  return b;
}

/** One JSON-level change: the node at (index modulo the node count) is changed. */
export type JsonEdit =
  | { op: "replace"; node: number; value: unknown }
  | { op: "remove"; node: number }
  | { op: "wrap"; node: number }
  | { op: "number"; node: number; value: number };

/** JSON edits: replaced by any JSON value or an odd number, removed, wrapped in an array. */
export function jsonEdits(): fc.Arbitrary<JsonEdit[]> {
  const node = fc.nat();
  const odd = fc.constantFrom(
    0,
    -1,
    1e308,
    -1e308,
    2 ** 53,
    2 ** 40,
    0.5,
    1e12,
    4294967296,
    -2147483649,
  );
  const edit: fc.Arbitrary<JsonEdit> = fc.oneof(
    fc.record({ op: fc.constant("replace" as const), node, value: fc.jsonValue({ maxDepth: 2 }) }),
    fc.record({ op: fc.constant("remove" as const), node }),
    fc.record({ op: fc.constant("wrap" as const), node }),
    fc.record({ op: fc.constant("number" as const), node, value: odd }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 3 });
}

type Slot = { parent: Record<string, unknown> | unknown[]; key: string | number };

function slots(v: unknown, out: Slot[] = []): Slot[] {
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      out.push({ parent: v, key: i });
      slots(x, out);
    });
  } else if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      out.push({ parent: v as Record<string, unknown>, key: k });
      slots(x, out);
    }
  }
  return out;
}

/** A deep copy of `value` with the edits applied. */
export function applyJson(value: unknown, edits: readonly JsonEdit[]): unknown {
  const root = { value: structuredClone(value) };
  for (const e of edits) {
    const all = slots(root);
    if (all.length === 0) break;
    const s = all[e.node % all.length];
    const p = s.parent as Record<string | number, unknown>;
    if (e.op === "replace" || e.op === "number") p[s.key] = e.value;
    else if (e.op === "wrap") p[s.key] = [p[s.key]];
    else if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
    else delete p[s.key];
  }
  return root.value;
}

/** Statistics of one target, for the report. */
export interface FuzzStats {
  cases: number;
  failures: number;
  slowestMs: number;
  errors: Record<string, number>;
}

/**
 * Runs `check` on generated inputs for FUZZ_MS and returns the statistics. `check` returns
 * normally when the input was accepted and throws what the library threw otherwise; an
 * error is accepted when it is a LossforgeError whose message includes `names(input)`.
 */
export async function fuzz<T>(
  label: string,
  arb: fc.Arbitrary<T>,
  check: (input: T) => Promise<void> | void,
  names: (input: T) => string,
): Promise<FuzzStats> {
  const stats: FuzzStats = { cases: 0, failures: 0, slowestMs: 0, errors: {} };
  const rss0 = Deno.memoryUsage().rss;
  let peak = rss0;
  await fc.assert(
    fc.asyncProperty(arb, async (input) => {
      stats.cases++;
      const t0 = performance.now();
      let thrown: unknown;
      try {
        await check(input);
      } catch (e) {
        thrown = e;
      }
      const ms = performance.now() - t0;
      stats.slowestMs = Math.max(stats.slowestMs, ms);
      peak = Math.max(peak, Deno.memoryUsage().rss);
      if (ms > CASE_MS) throw new Error(`${label}: a case took ${ms.toFixed(0)} ms (a hang?)`);
      if (peak - rss0 > MEMORY_BOUND) {
        throw new Error(`${label}: resident memory grew ${(peak - rss0) / 2 ** 20} MiB`);
      }
      if (thrown === undefined) return;
      const name = thrown instanceof Error ? thrown.constructor.name : typeof thrown;
      stats.errors[name] = (stats.errors[name] ?? 0) + 1;
      if (!(thrown instanceof LossforgeError)) {
        throw new Error(`${label}: not a library error: ${name}: ${(thrown as Error)?.stack}`);
      }
      const want = names(input);
      if (!thrown.message.includes(want)) {
        throw new Error(`${label}: the message does not name ${want}: ${thrown.message}`);
      }
    }),
    { numRuns: 1_000_000, interruptAfterTimeLimit: FUZZ_MS, seed: SEED, endOnFailure: true },
  );
  console.log(
    `${label}: ${stats.cases} cases in ${FUZZ_MS} ms, slowest ${stats.slowestMs.toFixed(1)} ms, ` +
      `errors ${JSON.stringify(stats.errors)}`,
  );
  return stats;
}

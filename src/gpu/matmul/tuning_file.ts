/**
 * The tuned matmul table as a file: `saveMatmulTuning` writes every adapter's entries as JSON
 * (`{ format: "lossforge-matmul-tuning", version: 1, entries: MatmulTuningEntry[] }`) and
 * `loadMatmulTuning` checks a whole file before adding its entries to the table.
 * @module
 */
import { BackendError } from "../../autograd/errors.ts";
import { gpuInfo } from "../select.ts";
import {
  adapterId,
  classOf,
  type MatmulTile,
  matmulTuning,
  type MatmulTuningMeasure,
  tuned,
  type TunedChoice,
} from "./table.ts";

/**
 * What `loadMatmulTuning` read: all entries, and how many belong to this process's adapter
 * (the others are kept, so that saving writes them back, but never consulted).
 *
 * @example
 * ```ts
 * import { loadMatmulTuning, type MatmulTuningLoad, saveMatmulTuning } from "@lossforge/core";
 * const describe = (r: MatmulTuningLoad) => `${r.forThisAdapter} of ${r.entries} apply here`;
 * const path = await Deno.makeTempFile({ suffix: ".json" });
 * await saveMatmulTuning(path); // an empty table until tuneMatmul fills it
 * console.log(describe(await loadMatmulTuning(path))); // "0 of 0 apply here"
 * ```
 */
export interface MatmulTuningLoad {
  /** Entries in the file. */
  entries: number;
  /** Of them, entries for the adapter this process runs on (0 without one). */
  forThisAdapter: number;
}

/** The `format` field of a saved table. */
const FORMAT = "lossforge-matmul-tuning";
const VERSION = 1;

/**
 * Writes the tuned matmul table (every adapter's entries) to `path` as JSON, through a
 * temporary file renamed into place.
 *
 * @example
 * ```ts
 * import { saveMatmulTuning, setBackend, tuneMatmul } from "@lossforge/core";
 * await setBackend("webgpu");
 * await tuneMatmul([{ m: 64, k: 64, n: 64 }], { rounds: 1, minMs: 5 });
 * const path = await Deno.makeTempFile({ suffix: ".json" });
 * await saveMatmulTuning(path); // a later run: await loadMatmulTuning(path)
 * ```
 */
export async function saveMatmulTuning(path: string | URL): Promise<void> {
  const text = JSON.stringify(
    { format: FORMAT, version: VERSION, entries: matmulTuning() },
    null,
    1,
  );
  const tmp = `${path instanceof URL ? path.pathname : path}.tmp-${Deno.pid}`;
  try {
    await Deno.writeTextFile(tmp, text + "\n");
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw new BackendError(`saveMatmulTuning: cannot write ${path}: ${(err as Error).message}`);
  }
}

/** Checks one field of a loaded file: throws naming the file and field. */
function bad(path: string | URL, field: string, want: string, got: unknown): never {
  throw new BackendError(
    `loadMatmulTuning: ${path}: ${field} must be ${want}, got ${JSON.stringify(got) ?? got}`,
  );
}

/** Whether `v` is a power of two up to 2^62 (a class bound). */
function isPow2(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 2 ** 62 &&
    2 ** Math.round(Math.log2(v)) === v;
}

function checkTile(path: string | URL, at: string, t: unknown): MatmulTile {
  if (t === null || typeof t !== "object" || Array.isArray(t)) {
    bad(path, at, "an object {bm, bn, bk, tm, tn}", t);
  }
  const r = t as Record<string, unknown>;
  const int = (f: string, max: number) => {
    const v = r[f];
    if (!Number.isSafeInteger(v) || (v as number) < 1 || (v as number) > max) {
      bad(path, `${at}.${f}`, `an integer in [1, ${max}]`, v);
    }
    return v as number;
  };
  const tm = int("tm", 16), tn = int("tn", 16);
  if (tm % 4 !== 0) bad(path, `${at}.tm`, "a multiple of 4", tm);
  if (tn % 4 !== 0) bad(path, `${at}.tn`, "a multiple of 4", tn);
  const bm = int("bm", 256), bn = int("bn", 256), bk = int("bk", 64);
  if (bm % tm !== 0) bad(path, `${at}.bm`, `a multiple of tm (${tm})`, bm);
  if (bn % tn !== 0) bad(path, `${at}.bn`, `a multiple of tn (${tn})`, bn);
  if ((bm / tm) * (bn / tn) > 1024) {
    bad(path, at, "a tile of at most 1024 threads ((bm/tm)·(bn/tn))", t);
  }
  const tile: MatmulTile = { bm, bn, bk, tm, tn };
  if (r.unroll !== undefined) {
    if (typeof r.unroll !== "boolean") bad(path, `${at}.unroll`, "a boolean", r.unroll);
    tile.unroll = r.unroll;
  }
  return tile;
}

function checkMeasure(path: string | URL, at: string, v: unknown): MatmulTuningMeasure {
  if (v === null || typeof v !== "object" || Array.isArray(v)) bad(path, at, "an object", v);
  const r = v as Record<string, unknown>;
  for (const f of ["m", "k", "n", "batch", "ms", "ruleMs"]) {
    if (typeof r[f] !== "number" || !(r[f] as number >= 0)) {
      bad(path, `${at}.${f}`, "a non-negative number", r[f]);
    }
  }
  if (typeof r.rule !== "string") bad(path, `${at}.rule`, "a string", r.rule);
  const { m, k, n, batch, ms, ruleMs, rule } = r as unknown as MatmulTuningMeasure;
  return { m, k, n, batch, ms, ruleMs, rule };
}

/**
 * Reads a table written by `saveMatmulTuning` and adds its entries to the tuned table
 * (replacing entries for the same adapter and class). Entries whose adapter is not this
 * process's are kept for saving but never consulted. The whole file is checked before
 * anything is added: a malformed one throws a BackendError naming the file and the field
 * (`entries[2].m must be a power of two ...`) and leaves the table as it was.
 *
 * @example
 * ```ts
 * import { loadMatmulTuning, saveMatmulTuning, setBackend, tuneMatmul } from "@lossforge/core";
 * await setBackend("webgpu");
 * const path = await Deno.makeTempFile({ suffix: ".json" });
 * await tuneMatmul([{ m: 64, k: 64, n: 64 }], { rounds: 1, minMs: 5 });
 * await saveMatmulTuning(path);
 * const r = await loadMatmulTuning(path); // in a later run, before training
 * console.log(`${r.forThisAdapter} of ${r.entries} entries apply here`); // "1 of 1 entries ..."
 * ```
 */
export async function loadMatmulTuning(path: string | URL): Promise<MatmulTuningLoad> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new BackendError(`loadMatmulTuning: cannot read ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new BackendError(`loadMatmulTuning: ${path}: not JSON (${(err as Error).message})`);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    bad(path, "the file", `an object {format: "${FORMAT}", version, entries}`, doc);
  }
  const top = doc as Record<string, unknown>;
  if (top.format !== FORMAT) bad(path, "format", `"${FORMAT}"`, top.format);
  if (top.version !== VERSION) bad(path, "version", `${VERSION}`, top.version);
  if (!Array.isArray(top.entries)) bad(path, "entries", "an array", top.entries);
  const parsed: [string, number, TunedChoice][] = [];
  (top.entries as unknown[]).forEach((raw, i) => {
    const at = `entries[${i}]`;
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      bad(path, at, "an object", raw);
    }
    const r = raw as Record<string, unknown>;
    if (typeof r.adapter !== "string" || r.adapter === "") {
      bad(path, `${at}.adapter`, "a non-empty string", r.adapter);
    }
    if (r.dtype !== "float32") bad(path, `${at}.dtype`, `"float32"`, r.dtype);
    for (const f of ["transA", "transB"]) {
      if (typeof r[f] !== "boolean") bad(path, `${at}.${f}`, "a boolean", r[f]);
    }
    for (const f of ["m", "k", "n", "batch"]) {
      if (!isPow2(r[f])) bad(path, `${at}.${f}`, "a power of two (a shape class bound)", r[f]);
    }
    let c: TunedChoice;
    if (r.kernel === "tile") c = { kernel: "tile", tile: checkTile(path, `${at}.tile`, r.tile) };
    else if (r.kernel === "big" || r.kernel === "direct") c = { kernel: r.kernel };
    else bad(path, `${at}.kernel`, `"tile", "big" or "direct"`, r.kernel);
    if (r.measured !== undefined) c.measured = checkMeasure(path, `${at}.measured`, r.measured);
    const [m, k, n, batch] = [r.m, r.k, r.n, r.batch] as number[];
    parsed.push([r.adapter as string, classOf(m, k, n, batch, !!r.transA, !!r.transB), c]);
  });
  const info = await gpuInfo();
  const here = info ? adapterId(info) : null;
  let forThisAdapter = 0;
  for (const [id, cls, c] of parsed) {
    let table = tuned.get(id);
    if (!table) tuned.set(id, table = new Map());
    table.set(cls, c);
    if (id === here) forThisAdapter++;
  }
  return { entries: parsed.length, forThisAdapter };
}

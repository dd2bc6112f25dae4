/**
 * Matmul autotuning for the WebGPU backend: `tuneMatmul` times a few candidate kernels for each
 * product shape on the current adapter and records the fastest in a table keyed by the adapter
 * and the shape's class (dtype, transposes, and m, k, n, batch each rounded up to a power of
 * two); `matmul` consults that table before its fixed rules (`src/gpu/kernels/matmul.ts`).
 * Tuning waits on the GPU, so it only ever runs when awaited, never inside a matmul; the
 * table persists as JSON with `saveMatmulTuning` / `loadMatmulTuning`.
 * @module
 */
import type { DType } from "../autograd/dtype.ts";
import { initBackend } from "../autograd/backend.ts";
import { BackendError, ShapeError } from "../autograd/errors.ts";
import type { WebGpuBackend } from "./backend.ts";
import type { Engine, GpuBuffer } from "./engine.ts";
import { gpuInfo } from "./select.ts";
import { matmul, type MatmulTile, ruleChoice, TILE_DEFAULT } from "./kernels/matmul.ts";
import { BIG_BK, BIG_TILE, bigMatmulFits } from "./kernels/matmul_big.ts";
import {
  adapterId,
  classBounds,
  classOf,
  type MatmulChoice,
  type MatmulTuningMeasure,
  type ProductShape,
  seen,
  tuned,
  type TunedChoice,
} from "./kernels/matmul_table.ts";

/**
 * A product to tune: op(a) is m x k, op(b) is k x n, `batch` output matrices (default 1),
 * a or b read transposed (default false). Only float32 is tuned.
 *
 * @example
 * ```ts
 * import type { MatmulShape } from "@lossforge/core";
 * // x [16, 128, 96] @ w [96, 384] as a linear layer runs it.
 * const s: MatmulShape = { m: 128, k: 96, n: 384, batch: 16 };
 * console.log(s.batch);
 * ```
 */
export interface MatmulShape {
  /** Rows of the result. */
  m: number;
  /** The contracted dimension. */
  k: number;
  /** Columns of the result. */
  n: number;
  /** Output matrices (default 1). */
  batch?: number;
  /** Read a as its transpose (default false). */
  transA?: boolean;
  /** Read b as its transpose (default false). */
  transB?: boolean;
  /** The dtype (only "float32", the default). */
  dtype?: DType;
}

/**
 * How `tuneMatmul` times candidates.
 *
 * @example
 * ```ts
 * import type { TuneMatmulOptions } from "@lossforge/core";
 * const quick: TuneMatmulOptions = { rounds: 1, minMs: 5 };
 * console.log(quick.rounds);
 * ```
 */
export interface TuneMatmulOptions {
  /**
   * Interleaved rounds over the candidates; each keeps its best round (default 3: other
   * processes may share the machine).
   */
  rounds?: number;
  /**
   * The least time one measurement takes, in milliseconds (default 100): the products are
   * repeated until it is reached, since a GPU wait in Deno resolves on a polling interval of
   * about 11 ms (so a short measurement is mostly that wait).
   */
  minMs?: number;
  /** Called with one line per tuned shape (e.g. `console.log`). */
  log?: (line: string) => void;
}

/**
 * One entry of the tuned table: an adapter, a shape class and the kernel its products run.
 * A product belongs to the class when its m lies in (m/2, m] (1 for m = 1), and likewise
 * for k, n and batch. `kernel` is "tile" (with `tile`: a generated tile kernel), "big" (the
 * 128x128 kernel) or "direct" (one thread per output).
 *
 * @example
 * ```ts
 * import type { MatmulTuningEntry } from "@lossforge/core";
 * const e: MatmulTuningEntry = {
 *   adapter: "65541 |  | llvmpipe (LLVM 15.0.6, 256 bits) | fallback",
 *   dtype: "float32", transA: false, transB: true, m: 128, k: 512, n: 128, batch: 16,
 *   kernel: "tile", tile: { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8 },
 * };
 * console.log(e.kernel);
 * ```
 */
export interface MatmulTuningEntry {
  /** The adapter identity (vendor | architecture | description, "| fallback" when one). */
  adapter: string;
  /** The dtype (float32). */
  dtype: "float32";
  /** a read transposed. */
  transA: boolean;
  /** b read transposed. */
  transB: boolean;
  /** The class's bound on m (a power of two). */
  m: number;
  /** The class's bound on k (a power of two). */
  k: number;
  /** The class's bound on n (a power of two). */
  n: number;
  /** The class's bound on the output matrices (a power of two). */
  batch: number;
  /** The kernel. */
  kernel: "tile" | "big" | "direct";
  /** The tile, when `kernel` is "tile". */
  tile?: MatmulTile;
  /** What tuning measured (absent in entries written by hand). */
  measured?: MatmulTuningMeasure;
}

/**
 * What `loadMatmulTuning` read: all entries, and how many belong to this process's adapter
 * (the others are kept, so that saving writes them back, but never consulted).
 *
 * @example
 * ```ts
 * import type { MatmulTuningLoad } from "@lossforge/core";
 * const r: MatmulTuningLoad = { entries: 12, forThisAdapter: 8 };
 * console.log(r.entries - r.forThisAdapter); // 4 for other adapters
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

/** A readable name of a kernel choice. */
function label(c: MatmulChoice): string {
  if (c.kernel === "direct") return "direct";
  if (c.kernel === "big") return `big ${BIG_TILE}x${BIG_TILE}`;
  const t = c.tile;
  return `tile ${t.bm}x${t.bn}x${t.bk}/${t.tm}x${t.tn}${t.unroll === false ? " loop" : ""}`;
}

/** Whether the device can run a tile (threads, workgroup size and memory). */
function tileFits(e: Engine, t: MatmulTile): boolean {
  const l = e.ctx.info.limits;
  const at = (name: string, dflt: number) => l[name] ?? dflt;
  const wx = t.bn / t.tn, wy = t.bm / t.tm;
  return wx * wy <= at("maxComputeInvocationsPerWorkgroup", 256) &&
    wx <= at("maxComputeWorkgroupSizeX", 256) && wy <= at("maxComputeWorkgroupSizeY", 256) &&
    t.bk * (t.bm + t.bn) * 4 <= at("maxComputeWorkgroupStorageSize", 16384);
}

/** 8x8-per-thread tiles tried (those not overhanging the class by more than 32 rows/cols). */
const BLOCK_TILES: [number, number][] = [
  [32, 32],
  [64, 64],
  [128, 128],
  [64, 128],
  [128, 64],
  [32, 128],
  [128, 32],
];

/**
 * The candidates for a product: the rule's choice first, TILE_DEFAULT, the 8x8-per-thread
 * tiles that fit, the 128x128 kernel (m, n ≥ 128, k ≥ 8, limits allowing) and the direct
 * kernel for thin outputs (m or n ≤ 16).
 */
function candidates(e: Engine, s: ProductShape): MatmulChoice[] {
  const out: MatmulChoice[] = [ruleChoice(e, s.m, s.k, s.n, s.batch)];
  const add = (c: MatmulChoice) => {
    if (!out.some((o) => label(o) === label(c))) out.push(c);
  };
  add({ kernel: "tile", tile: TILE_DEFAULT });
  const bound = (d: number) => Math.max(32, 2 ** Math.ceil(Math.log2(d)));
  for (const [bm, bn] of BLOCK_TILES) {
    const tile = { bm, bn, bk: 8, tm: 8, tn: 8 };
    if (bm <= bound(s.m) && bn <= bound(s.n) && tileFits(e, tile)) add({ kernel: "tile", tile });
  }
  if (bigMatmulFits(e) && s.m >= BIG_TILE && s.n >= BIG_TILE && s.k >= BIG_BK) {
    add({ kernel: "big" });
  }
  if (Math.min(s.m, s.n) <= 16) add({ kernel: "direct" });
  return out;
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** Deterministic values in [-1, 1) (tuning only needs finite data). */
function fill(n: number, seed: number): Float32Array {
  const v = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 31 - 1;
  }
  return v;
}

/**
 * Another kernel replaces the rule's choice only when at least 3% faster: less is within the
 * noise of a shared machine, and a flip there would gain nothing.
 */
const MARGIN = 0.97;

/** Times the candidates for one product and returns the winner with its measurements. */
async function tuneOne(
  e: Engine,
  s: ProductShape,
  rounds: number,
  minMs: number,
): Promise<TunedChoice> {
  const { m, k, n, batch, transA, transB } = s;
  const aMats = s.aShared ? 1 : batch, bMats = s.bShared ? 1 : batch;
  const a = e.upload("tuneMatmul", fill(aMats * m * k, 1));
  const b = e.upload("tuneMatmul", fill(bMats * k * n, 2));
  const spec = {
    aBatch: [aMats],
    bBatch: [bMats],
    outBatch: [batch],
    m,
    k,
    n,
    transA,
    transB,
  };
  const run = (c: MatmulChoice, reps: number) => {
    for (let i = 0; i < reps; i++) {
      const out: GpuBuffer = matmul(e, a, b, spec, "float32", c);
      e.release(out);
    }
  };
  const timed = async (c: MatmulChoice, reps: number) => {
    await e.done();
    const t0 = performance.now();
    run(c, reps);
    await e.done();
    return performance.now() - t0;
  };
  try {
    // Compile and run each candidate once; one that fails on this device is dropped (the
    // rule's choice runs in matmul anyway, so its failure is the caller's to see).
    const all = candidates(e, s);
    const cands: MatmulChoice[] = [];
    for (const c of all) {
      try {
        await timed(c, 1);
        cands.push(c);
      } catch (err) {
        if (c === all[0]) throw err;
      }
    }
    // Repetitions per measurement: doubled until the rule's choice takes minMs.
    let reps = 1;
    while (reps < 4096 && (await timed(cands[0], reps)) < minMs) reps *= 2;
    const best = cands.map(() => Infinity);
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < cands.length; i++) {
        best[i] = Math.min(best[i], (await timed(cands[i], reps)) / reps);
      }
    }
    let win = 0;
    for (let i = 1; i < cands.length; i++) {
      if (best[i] < best[win] && best[i] < best[0] * MARGIN) win = i;
    }
    const measured: MatmulTuningMeasure = {
      m,
      k,
      n,
      batch,
      ms: round4(best[win]),
      ruleMs: round4(best[0]),
      rule: label(cands[0]),
    };
    return { ...cands[win], measured };
  } finally {
    e.release(a);
    e.release(b);
  }
}

function checkShape(s: MatmulShape, at: string): ProductShape {
  if (s === null || typeof s !== "object") {
    throw new ShapeError(`tuneMatmul: ${at} must be an object {m, k, n, ...}, got ${s}`);
  }
  for (const f of ["m", "k", "n", "batch"] as const) {
    const v = s[f];
    if (f === "batch" && v === undefined) continue;
    if (!Number.isSafeInteger(v) || (v as number) < 1) {
      throw new ShapeError(`tuneMatmul: ${at}.${f} must be a positive integer, got ${v}`);
    }
  }
  for (const f of ["transA", "transB"] as const) {
    if (s[f] !== undefined && typeof s[f] !== "boolean") {
      throw new ShapeError(`tuneMatmul: ${at}.${f} must be a boolean, got ${s[f]}`);
    }
  }
  if (s.dtype !== undefined && s.dtype !== "float32") {
    throw new ShapeError(`tuneMatmul: ${at}.dtype ${s.dtype} is not tuned (float32 only)`);
  }
  return {
    m: s.m,
    k: s.k,
    n: s.n,
    batch: s.batch ?? 1,
    transA: s.transA ?? false,
    transB: s.transB ?? false,
  };
}

function toEntry(adapter: string, cls: number, c: TunedChoice): MatmulTuningEntry {
  const b = classBounds(cls);
  const entry: MatmulTuningEntry = {
    adapter,
    dtype: "float32",
    transA: b.transA,
    transB: b.transB,
    m: b.m,
    k: b.k,
    n: b.n,
    batch: b.batch,
    kernel: c.kernel,
  };
  if (c.kernel === "tile") entry.tile = { ...c.tile };
  if (c.measured) entry.measured = { ...c.measured };
  return entry;
}

/**
 * Times candidate matmul kernels for each product shape on the current WebGPU adapter and
 * records the fastest for the shape's class, which every later float32 matmul of that class
 * then runs (unless `setMatmulTile` / `setBigMatmul` force a kernel). The candidates: the fixed
 * rule's choice, the 64x64 tile, 8x8-per-thread tiles from 32x32 to 128x128, the 128x128
 * kernel (m, n ≥ 128, k ≥ 8) and the direct kernel (m or n ≤ 16); each is timed in
 * interleaved rounds, best round kept, and replaces the rule's choice only when at least 3%
 * faster. Without `shapes`, tunes every float32 shape class that has run since start-up and
 * has no entry yet (its first product, with the same broadcast of a or b). Returns the new
 * entries. It waits on the GPU: await it between training runs, never inside a step.
 *
 * @example
 * ```ts ignore
 * import { matmul, randn, setBackend, tuneMatmul } from "@lossforge/core";
 * await setBackend("webgpu");
 * const x = randn([16, 128, 96]), w = randn([96, 384]);
 * matmul(x, w).dispose(); // one step of training: shapes are recorded
 * const entries = await tuneMatmul(); // tunes the classes seen so far
 * for (const e of entries) console.log(e.m, e.k, e.n, e.kernel, e.measured?.ms);
 * await tuneMatmul([{ m: 1, k: 64, n: 512, batch: 32, transB: true }], { rounds: 2 });
 * ```
 */
export async function tuneMatmul(
  shapes?: MatmulShape[],
  opts: TuneMatmulOptions = {},
): Promise<MatmulTuningEntry[]> {
  const rounds = opts.rounds ?? 3, minMs = opts.minMs ?? 100;
  if (!Number.isSafeInteger(rounds) || rounds < 1) {
    throw new RangeError(`tuneMatmul: rounds must be a positive integer, got ${rounds}`);
  }
  if (!(minMs >= 0 && minMs <= 60_000)) {
    throw new RangeError(`tuneMatmul: minMs must be in [0, 60000], got ${minMs}`);
  }
  if (shapes !== undefined && !Array.isArray(shapes)) {
    throw new ShapeError(`tuneMatmul: shapes must be an array, got ${shapes}`);
  }
  const todo = shapes?.map((s, i) => checkShape(s, `shapes[${i}]`));
  let gpu: WebGpuBackend;
  try {
    gpu = (await initBackend("webgpu")) as WebGpuBackend;
  } catch (err) {
    throw new BackendError(`tuneMatmul: no WebGPU device: ${(err as Error).message}`);
  }
  const e = gpu.engine;
  const id = adapterId(e.ctx.info);
  let table = tuned.get(id);
  if (!table) tuned.set(id, table = new Map());
  const work = new Map<number, ProductShape>();
  if (todo) {
    for (const s of todo) work.set(classOf(s.m, s.k, s.n, s.batch, s.transA, s.transB), s);
  } else {
    for (const [cls, s] of seen.get(id) ?? []) if (!table.has(cls)) work.set(cls, s);
  }
  const made: MatmulTuningEntry[] = [];
  for (const [cls, s] of work) {
    const c = await tuneOne(e, s, rounds, minMs);
    table.set(cls, c);
    const entry = toEntry(id, cls, c);
    made.push(entry);
    if (opts.log) {
      const t = c.measured!;
      opts.log(
        `tuneMatmul ${s.batch}x${s.m}x${s.k}x${s.n} ${s.transA ? "T" : "N"}${
          s.transB ? "T" : "N"
        }: ${label(c)} ${t.ms.toFixed(3)} ms (rule ${t.rule} ${t.ruleMs.toFixed(3)} ms)`,
      );
    }
  }
  return made;
}

/**
 * Every entry of the tuned matmul table (for all adapters: entries loaded for another one are
 * kept but not consulted).
 *
 * @example
 * ```ts ignore
 * import { matmulTuning, tuneMatmul } from "@lossforge/core";
 * await tuneMatmul([{ m: 64, k: 64, n: 64 }], { rounds: 1 });
 * console.log(matmulTuning().length); // 1
 * ```
 */
export function matmulTuning(): MatmulTuningEntry[] {
  const out: MatmulTuningEntry[] = [];
  for (const [id, table] of tuned) for (const [cls, c] of table) out.push(toEntry(id, cls, c));
  return out;
}

/**
 * Empties the tuned matmul table: every matmul follows the fixed rules again. Shapes seen
 * since start-up stay recorded for a later `tuneMatmul()`.
 *
 * @example
 * ```ts
 * import { clearMatmulTuning, matmulTuning } from "@lossforge/core";
 * clearMatmulTuning();
 * console.log(matmulTuning().length); // 0
 * ```
 */
export function clearMatmulTuning(): void {
  tuned.clear();
}

/**
 * Writes the tuned matmul table (every adapter's entries) to `path` as JSON, through a
 * temporary file renamed into place.
 *
 * @example
 * ```ts ignore
 * import { saveMatmulTuning, tuneMatmul } from "@lossforge/core";
 * await tuneMatmul();
 * await saveMatmulTuning("matmul-tuning.json");
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
 * ```ts ignore
 * import { loadMatmulTuning } from "@lossforge/core";
 * const r = await loadMatmulTuning("matmul-tuning.json");
 * console.log(`${r.forThisAdapter} of ${r.entries} entries apply here`);
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

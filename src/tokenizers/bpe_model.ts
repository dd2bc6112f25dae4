/**
 * The BPE model of `tokenizer.json` (`model.type: "BPE"`): a vocabulary and ranked merges
 * that turn one pre-tokenized word into token ids, merging the best-ranked adjacent pair
 * first. Words are cached.
 *
 * @module
 */

import { isObject, show } from "../util/show.ts";
import { UTF8_ENCODER } from "./byte_level.ts";
import type { Json, JsonObject } from "./hf_json.ts";

/** Words cached before the cache starts over (a bound on memory for endless text). */
const CACHE_LIMIT = 100_000;

/** The key of the merge of the ids `a` and `b` (ids stay below 2^21 in any real vocab). */
const pairKey = (a: number, b: number): number => a * 2_097_152 + b;

/** A BPE vocabulary with its merges; `where` in the constructor names the file in errors. */
export class BpeModel {
  /** Token string to id. */
  readonly vocab: Map<string, number>;
  /** Rank of each merge, keyed by {@linkcode pairKey} of the two ids (lower merges first). */
  readonly ranks: Map<number, number>;
  /** Id of each merge's result, keyed by {@linkcode pairKey} of the two ids. */
  readonly merged: Map<number, number>;
  /** `ignore_merges`: a word found whole in the vocab is one token, merges or not. */
  readonly ignoreMerges: boolean;
  /** Id of `unk_token`, for characters outside the vocab. */
  readonly unkId: number | undefined;
  /** `fuse_unk`: neighbouring unknown characters become one `unk_token`. */
  readonly fuseUnk: boolean;
  /** `byte_fallback`: characters outside the vocab become `<0xNN>` byte tokens. */
  readonly byteFallback: boolean;
  /** `continuing_subword_prefix`: put before every char of a word but the first. */
  readonly prefix: string;
  /** `end_of_word_suffix`: put after the last char of a word. */
  readonly suffix: string;
  /** Word to ids, for words seen before. */
  readonly cache = new Map<string, number[]>();
  /** Id of each byte's `<0xNN>` token (-1: not in the vocab). */
  readonly #byteIds: Int32Array;

  constructor(model: JsonObject, where: string) {
    const vocabJson = model.vocab;
    if (!isObject<Json>(vocabJson)) {
      throw new Error(
        `${where}: model.vocab must be an object of token -> id, got ${show(vocabJson)}`,
      );
    }
    this.vocab = new Map();
    for (const [tok, id] of Object.entries(vocabJson)) {
      if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
        throw new Error(
          `${where}: model.vocab[${show(tok)}] must be a non-negative integer, got ${show(id)}`,
        );
      }
      this.vocab.set(tok, id);
    }
    const affix = (field: string): string => {
      const v = model[field];
      if (v === undefined || v === null) return "";
      if (typeof v !== "string") {
        throw new Error(`${where}: model.${field} must be a string or null, got ${show(v)}`);
      }
      return v;
    };
    this.prefix = affix("continuing_subword_prefix");
    this.suffix = affix("end_of_word_suffix");
    const mergesJson = model.merges ?? [];
    if (!Array.isArray(mergesJson)) {
      throw new Error(`${where}: model.merges must be an array, got ${show(mergesJson)}`);
    }
    this.ranks = new Map();
    this.merged = new Map();
    mergesJson.forEach((m, rank) => {
      let a: string, b: string;
      if (typeof m === "string") {
        const sp = m.indexOf(" ", 1);
        if (sp < 0) throw new Error(`${where}: model.merges[${rank}] ${show(m)} is not "a b"`);
        a = m.slice(0, sp);
        b = m.slice(sp + 1);
      } else if (
        Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string"
      ) {
        [a, b] = [m[0], m[1]];
      } else {
        throw new Error(
          `${where}: model.merges[${rank}] must be "a b" or ["a", "b"], got ${show(m)}`,
        );
      }
      // The merged token drops the second part's subword prefix ("a" + "##b" is "ab").
      const whole = a +
        (this.prefix !== "" && b.startsWith(this.prefix) ? b.slice(this.prefix.length) : b);
      const id = this.vocab.get(whole);
      if (id === undefined) {
        throw new Error(
          `${where}: model.merges[${rank}] ${show(m)}: merged token ${
            show(whole)
          } is not in the vocab`,
        );
      }
      const aId = this.vocab.get(a);
      const bId = this.vocab.get(b);
      for (const [part, partId] of [[a, aId], [b, bId]] as const) {
        if (partId === undefined) {
          throw new Error(
            `${where}: model.merges[${rank}] ${show(m)}: token ${show(part)} is not in the vocab`,
          );
        }
      }
      // As in Hugging Face (a map built in order), a repeated merge takes its last rank.
      const key = pairKey(aId!, bId!);
      this.ranks.set(key, rank);
      this.merged.set(key, id);
    });
    this.ignoreMerges = model.ignore_merges === true;
    this.byteFallback = model.byte_fallback === true;
    this.fuseUnk = model.fuse_unk === true;
    const unk = model.unk_token;
    if (typeof unk === "string") {
      this.unkId = this.vocab.get(unk);
      if (this.unkId === undefined) {
        throw new Error(`${where}: model.unk_token ${show(unk)} is not in the vocab`);
      }
    }
    this.#byteIds = new Int32Array(256).fill(-1);
    for (let b = 0; b < 256; b++) {
      const id = this.vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
      if (id !== undefined) this.#byteIds[b] = id;
    }
  }

  /** Tokenize one pre-tokenized word (byte-level mapped, for a byte-level tokenizer). */
  tokenize(word: string): number[] {
    if (word.length === 0) return [];
    const cached = this.cache.get(word);
    if (cached) return cached;
    const ids = this.#bpe(word);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(word, ids);
    return ids;
  }

  /**
   * The initial symbols of `word`: one id per char (with the subword prefix and word suffix
   * where they go), the `<0xNN>` ids of a char outside the vocab under `byte_fallback`, else
   * `unk_token` (neighbours fused under `fuse_unk`); a char with none of these is dropped,
   * as Hugging Face drops it.
   */
  #symbols(word: string): number[] {
    const ids: number[] = [];
    let unkPending = false;
    const chars = [...word];
    for (let i = 0; i < chars.length; i++) {
      let s = chars[i];
      if (i > 0 && this.prefix !== "") s = this.prefix + s;
      if (i === chars.length - 1 && this.suffix !== "") s += this.suffix;
      const id = this.vocab.get(s);
      if (id !== undefined) {
        if (unkPending) ids.push(this.unkId!);
        unkPending = false;
        ids.push(id);
        continue;
      }
      if (this.byteFallback) {
        const bytes = UTF8_ENCODER.encode(s);
        let all = true;
        for (const b of bytes) if (this.#byteIds[b] < 0) all = false;
        if (all) {
          // Hugging Face adds these before a pending unk token is flushed.
          for (const b of bytes) ids.push(this.#byteIds[b]);
          continue;
        }
      }
      if (this.unkId !== undefined) {
        if (unkPending && !this.fuseUnk) ids.push(this.unkId);
        unkPending = true;
      }
    }
    if (unkPending) ids.push(this.unkId!);
    return ids;
  }

  #bpe(word: string): number[] {
    if (this.ignoreMerges) {
      const whole = this.vocab.get(word);
      if (whole !== undefined) return [whole];
    }
    const ids = this.#symbols(word);
    const n = ids.length;
    if (n <= 1) return ids;
    if (n >= 67_108_864) {
      throw new Error(`BPE: a word of ${n} symbols is longer than the 2^26 supported`);
    }
    // Hugging Face's merge loop: a heap of (rank, position, result) candidates, the lowest
    // rank (then the leftmost) first; a candidate whose pair no longer merges to its result
    // is stale and skipped.
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new MergeHeap(n);
    const consider = (l: number): void => {
      if (l < 0) return;
      const r = next[l];
      if (r < 0) return;
      const key = pairKey(ids[l], ids[r]);
      const rank = this.ranks.get(key);
      if (rank !== undefined) heap.push(rank, l, this.merged.get(key)!);
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    while (heap.size > 0) {
      const l = heap.topPos();
      const result = heap.pop();
      if (!alive[l]) continue;
      const r = next[l];
      if (r < 0) continue;
      if (this.merged.get(pairKey(ids[l], ids[r])) !== result) continue;
      ids[l] = result;
      alive[r] = 0;
      next[l] = next[r];
      if (next[r] >= 0) prev[next[r]] = l;
      consider(prev[l]);
      consider(l);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(ids[i]);
    return out;
  }
}

/**
 * A binary min-heap of merge candidates in typed arrays: ordered by rank, then position
 * (`rank * 2^26 + position` as one float64), each carrying the id the merge makes.
 */
class MergeHeap {
  #keys: Float64Array;
  #vals: Int32Array;
  size = 0;

  constructor(capacity: number) {
    this.#keys = new Float64Array(Math.max(16, capacity));
    this.#vals = new Int32Array(Math.max(16, capacity));
  }

  push(rank: number, pos: number, result: number): void {
    if (this.size === this.#keys.length) {
      const keys = new Float64Array(this.size * 2);
      keys.set(this.#keys);
      const vals = new Int32Array(this.size * 2);
      vals.set(this.#vals);
      this.#keys = keys;
      this.#vals = vals;
    }
    const keys = this.#keys, vals = this.#vals;
    const key = rank * 67_108_864 + pos;
    let k = this.size++;
    while (k > 0) {
      const p = (k - 1) >> 1;
      if (keys[p] <= key) break;
      keys[k] = keys[p];
      vals[k] = vals[p];
      k = p;
    }
    keys[k] = key;
    vals[k] = result;
  }

  /** The position of the best candidate. */
  topPos(): number {
    return this.#keys[0] % 67_108_864;
  }

  /** Removes the best candidate; returns the id its merge makes. */
  pop(): number {
    const keys = this.#keys, vals = this.#vals;
    const top = vals[0];
    const n = --this.size;
    const key = keys[n], val = vals[n];
    let k = 0;
    for (;;) {
      const l = 2 * k + 1;
      if (l >= n) break;
      const c = l + 1 < n && keys[l + 1] < keys[l] ? l + 1 : l;
      if (keys[c] >= key) break;
      keys[k] = keys[c];
      vals[k] = vals[c];
      k = c;
    }
    keys[k] = key;
    vals[k] = val;
    return top;
  }
}

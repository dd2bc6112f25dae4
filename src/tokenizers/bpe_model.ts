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

/** A BPE vocabulary with its merges; `where` in the constructor names the file in errors. */
export class BpeModel {
  /** Token string to id. */
  readonly vocab: Map<string, number>;
  /** Rank of each merge, keyed "a\u0000b" (lower merges first). */
  readonly ranks: Map<string, number>;
  /** Id of each merge's result, keyed "a\u0000b". */
  readonly merged: Map<string, number>;
  /** `ignore_merges`: a word found whole in the vocab is one token, merges or not. */
  readonly ignoreMerges: boolean;
  /** Id of `unk_token`, for characters outside the vocab. */
  readonly unkId: number | undefined;
  /** `byte_fallback`: characters outside the vocab become `<0xNN>` byte tokens. */
  readonly byteFallback: boolean;
  /** Word to ids, for words seen before. */
  readonly cache = new Map<string, number[]>();

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
      const key = a + "\u0000" + b;
      const id = this.vocab.get(a + b);
      if (id === undefined) {
        throw new Error(
          `${where}: model.merges[${rank}] ${show(m)}: merged token ${
            show(a + b)
          } is not in the vocab`,
        );
      }
      if (!this.ranks.has(key)) {
        this.ranks.set(key, rank);
        this.merged.set(key, id);
      }
    });
    this.ignoreMerges = model.ignore_merges === true;
    this.byteFallback = model.byte_fallback === true;
    const unk = model.unk_token;
    if (typeof unk === "string") {
      this.unkId = this.vocab.get(unk);
      if (this.unkId === undefined) {
        throw new Error(`${where}: model.unk_token ${show(unk)} is not in the vocab`);
      }
    }
    for (const field of ["continuing_subword_prefix", "end_of_word_suffix"]) {
      const v = model[field];
      if (v !== undefined && v !== null && v !== "") {
        throw new Error(`${where}: model.${field} = ${show(v)} is not supported`);
      }
    }
  }

  /** Tokenize one pre-tokenized (byte-level mapped) word. */
  tokenize(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const ids = this.#bpe(word);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(word, ids);
    return ids;
  }

  #bpe(word: string): number[] {
    if (this.ignoreMerges) {
      const whole = this.vocab.get(word);
      if (whole !== undefined) return [whole];
    }
    // initial symbols: one per code point
    const sym: string[] = [];
    const ids: number[] = [];
    for (const ch of word) {
      const id = this.vocab.get(ch);
      if (id !== undefined) {
        sym.push(ch);
        ids.push(id);
      } else if (this.byteFallback) {
        for (const b of UTF8_ENCODER.encode(ch)) {
          const tok = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
          const bid = this.vocab.get(tok);
          if (bid === undefined) throw new Error(`byte-fallback token ${tok} is not in the vocab`);
          sym.push(tok);
          ids.push(bid);
        }
      } else if (this.unkId !== undefined) {
        sym.push(ch);
        ids.push(this.unkId);
      } else {
        throw new Error(
          `BPE: character ${show(ch)} (U+${
            ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")
          }) is not in the vocab and there is no unk_token`,
        );
      }
    }
    const n = sym.length;
    if (n <= 1) return ids;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const ver = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    // min-heap of candidate merges: [rank, left, right, verLeft, verRight]
    const heap: number[][] = [];
    const less = (x: number[], y: number[]): boolean =>
      x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]);
    const push = (e: number[]): void => {
      heap.push(e);
      let k = heap.length - 1;
      while (k > 0) {
        const p = (k - 1) >> 1;
        if (!less(heap[k], heap[p])) break;
        [heap[k], heap[p]] = [heap[p], heap[k]];
        k = p;
      }
    };
    const pop = (): number[] => {
      const top = heap[0];
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        let k = 0;
        for (;;) {
          const l = 2 * k + 1, r = l + 1;
          let m = k;
          if (l < heap.length && less(heap[l], heap[m])) m = l;
          if (r < heap.length && less(heap[r], heap[m])) m = r;
          if (m === k) break;
          [heap[k], heap[m]] = [heap[m], heap[k]];
          k = m;
        }
      }
      return top;
    };
    const consider = (l: number): void => {
      const r = next[l];
      if (l < 0 || r < 0) return;
      const rank = this.ranks.get(sym[l] + "\u0000" + sym[r]);
      if (rank !== undefined) push([rank, l, r, ver[l], ver[r]]);
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    while (heap.length > 0) {
      const [, l, r, vl, vr] = pop();
      if (ver[l] !== vl || ver[r] !== vr || next[l] !== r) continue;
      const key = sym[l] + "\u0000" + sym[r];
      sym[l] = sym[l] + sym[r];
      ids[l] = this.merged.get(key)!;
      ver[l]++;
      ver[r] = -1; // dead
      next[l] = next[r];
      if (next[r] >= 0) prev[next[r]] = l;
      consider(prev[l]);
      consider(l);
    }
    const result: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) result.push(ids[i]);
    return result;
  }
}

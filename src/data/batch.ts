/**
 * Turning prompt/target pairs into fixed-shape training batches (plain typed arrays, no
 * tensors): shifted next-token targets, padding, attention and answer masks.
 *
 * @module
 */

import type { Tokenizer } from "../tokenizers/mod.ts";

/**
 * The target value of ignored positions (padding), as in cross-entropy's ignore index.
 *
 * @example
 * ```ts
 * import { byteTokenizer, IGNORE_INDEX, makeBatch } from "@lossforge/core";
 * const b = makeBatch(byteTokenizer(), [{ prompt: "Q", target: "A" }], { maxLength: 6 });
 * console.log(b.targets); // [81, 65, 258, -100, -100, -100]
 * console.log(b.targets.filter((t) => t === IGNORE_INDEX).length); // 3 padded positions
 * ```
 */
export const IGNORE_INDEX: number = -100;

/**
 * Which side padding goes: `"right"` (after the tokens) or `"left"` (before them).
 *
 * @example
 * ```ts
 * import { byteTokenizer, encodeExample, type PadSide } from "@lossforge/core";
 * const padSide: PadSide = "left";
 * console.log(encodeExample(byteTokenizer(), "Q", "A", { maxLength: 6, padSide }).ids);
 * // [256, 256, 256, 257, 81, 65]: pad, then bos, "Q", "A"
 * ```
 */
export type PadSide = "left" | "right";

/**
 * Options of {@linkcode encodeExample} and {@linkcode makeBatch}.
 *
 * @example
 * ```ts
 * import { byteTokenizer, encodeExample } from "@lossforge/core";
 * const tok = byteTokenizer();
 * // Too long for 6 positions: the prompt loses its start; bos and the answer stay.
 * const row = encodeExample(tok, "Question: 1+1?", "2", { maxLength: 6 });
 * console.log(tok.decode(row.ids), row.answerMask); // "1+1?2" [0, 0, 0, 0, 1, 1]
 * console.log(encodeExample(tok, "Q", "A", { maxLength: 4, addBos: false }).ids);
 * // [81, 65, 256, 256]
 * ```
 */
export interface EncodeOptions {
  /** T: the number of input positions per row (an integer >= 1). */
  maxLength: number;
  /** Where padding goes (default `"right"`). */
  padSide?: PadSide;
  /** Put the tokenizer's `bos` first, when it has one (default true). */
  addBos?: boolean;
}

/**
 * One encoded row of length T.
 *
 * @example
 * ```ts
 * import { byteTokenizer, encodeExample, type EncodedExample } from "@lossforge/core";
 * const row: EncodedExample = encodeExample(byteTokenizer(), "Q", "A", { maxLength: 4 });
 * console.log(row.ids, row.targets); // [257, 81, 65, 256] [81, 65, 258, -100]
 * console.log(row.promptLength, row.length); // 2 3
 * ```
 */
export interface EncodedExample {
  /** Input token ids (pad id at padding). */
  ids: number[];
  /** Next-token targets; {@linkcode IGNORE_INDEX} at padding. */
  targets: number[];
  /** 1 where the target is an answer token (target text or eos), else 0. */
  answerMask: number[];
  /** 1 at real tokens, 0 at padding. */
  attention: number[];
  /** Prompt tokens kept (bos included), after truncation. */
  promptLength: number;
  /** Real (non-padding) input positions. */
  length: number;
}

/**
 * A batch of B rows of T positions, row-major (`index = b * T + t`).
 *
 * @example
 * ```ts
 * import { type Batch, byteTokenizer, makeBatch } from "@lossforge/core";
 * const b: Batch = makeBatch(byteTokenizer(), [{ prompt: "Q", target: "A" }], { maxLength: 8 });
 * console.log(b.batch, b.length, b.ids.length); // 1 8 8
 * ```
 */
export interface Batch {
  /** Input ids, [B*T]. */
  ids: Int32Array;
  /** Shifted next-token targets, [B*T]; -100 at padding. Prompt targets are kept. */
  targets: Int32Array;
  /** [B*T]: 1 where the target is an answer token, else 0. */
  answerMask: Float32Array;
  /** [B*T]: 1 at real tokens, 0 at padding. */
  attention: Float32Array;
  /** B. */
  batch: number;
  /** T. */
  length: number;
  /** Prompt tokens kept per row (bos included). */
  promptLengths: number[];
  /** Real (non-padding) input positions per row. */
  lengths: number[];
}

interface Sequence {
  seq: number[];
  promptLength: number;
}

function checkLength(name: string, maxLength: number): void {
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    throw new RangeError(`${name}: maxLength must be an integer >= 1, got ${maxLength}`);
  }
}

function checkPadSide(name: string, padSide: string): void {
  if (padSide !== "left" && padSide !== "right") {
    throw new RangeError(
      `${name}: padSide must be "left" or "right", got ${JSON.stringify(padSide)}`,
    );
  }
}

/** The full sequence (bos + prompt + target + eos), truncated to at most maxLength + 1. */
function buildSequence(
  tokenizer: Tokenizer,
  prompt: string,
  target: string,
  maxLength: number,
  addBos: boolean,
): Sequence {
  const head = addBos && tokenizer.bos !== undefined ? [tokenizer.bos] : [];
  let p = tokenizer.encode(prompt);
  let a = [...tokenizer.encode(target), tokenizer.eos];
  const room = maxLength + 1 - head.length;
  if (a.length >= room) {
    // The answer alone does not fit: drop the whole prompt and cut the answer's end.
    p = [];
    a = a.slice(0, room);
  } else if (p.length + a.length > room) {
    p = p.slice(p.length - (room - a.length)); // truncate the prompt from the left
  }
  return { seq: [...head, ...p, ...a], promptLength: head.length + p.length };
}

function layoutRow(
  s: Sequence,
  T: number,
  pad: number,
  padSide: PadSide,
  out: { ids: Int32Array; targets: Int32Array; answerMask: Float32Array; attention: Float32Array },
  base: number,
): number {
  const n = Math.max(0, s.seq.length - 1);
  const start = padSide === "left" ? T - n : 0;
  for (let t = 0; t < T; t++) {
    out.ids[base + t] = pad;
    out.targets[base + t] = IGNORE_INDEX;
    out.answerMask[base + t] = 0;
    out.attention[base + t] = 0;
  }
  for (let i = 0; i < n; i++) {
    const k = base + start + i;
    out.ids[k] = s.seq[i];
    out.targets[k] = s.seq[i + 1];
    out.attention[k] = 1;
    out.answerMask[k] = i + 1 >= s.promptLength ? 1 : 0;
  }
  return n;
}

/**
 * Encodes one prompt/target pair into a row of T = `maxLength` positions. The sequence is
 * `[bos] + prompt + target + eos`; inputs are `seq[0..n-1]` and targets `seq[1..n]` (next
 * token). Following the paper, prompt tokens keep their targets (cross-entropy covers
 * them); `answerMask` marks the positions whose target is an answer token (target or eos).
 * Padding positions have the pad id, target -100 and both masks 0. If too long, the prompt
 * is truncated from the left (bos kept); if the answer alone does not fit, the prompt is
 * dropped and the answer's end is cut.
 *
 * @param tokenizer The tokenizer.
 * @param prompt The prompt text.
 * @param target The answer text (eos is appended).
 * @param options `maxLength` (T), `padSide` (default `"right"`), `addBos` (default true).
 * @returns The row.
 *
 * @example
 * ```ts
 * import { byteTokenizer, encodeExample } from "@lossforge/core";
 * const tok = byteTokenizer();
 * const row = encodeExample(tok, "Q", "A", { maxLength: 5 });
 * // seq = [bos, "Q", "A", eos]
 * console.log(row.ids); // [257, 81, 65, 256, 256]
 * console.log(row.targets); // [81, 65, 258, -100, -100]
 * console.log(row.answerMask); // [0, 1, 1, 0, 0]
 * ```
 */
export function encodeExample(
  tokenizer: Tokenizer,
  prompt: string,
  target: string,
  options: EncodeOptions,
): EncodedExample {
  const { maxLength, padSide = "right", addBos = true } = options;
  checkLength("encodeExample", maxLength);
  checkPadSide("encodeExample", padSide);
  const s = buildSequence(tokenizer, prompt, target, maxLength, addBos);
  const out = {
    ids: new Int32Array(maxLength),
    targets: new Int32Array(maxLength),
    answerMask: new Float32Array(maxLength),
    attention: new Float32Array(maxLength),
  };
  const n = layoutRow(s, maxLength, tokenizer.pad, padSide, out, 0);
  return {
    ids: Array.from(out.ids),
    targets: Array.from(out.targets),
    answerMask: Array.from(out.answerMask),
    attention: Array.from(out.attention),
    promptLength: s.promptLength,
    length: n,
  };
}

/**
 * Options of {@linkcode makeBatch}.
 *
 * @example
 * ```ts
 * import { byteTokenizer, makeBatch } from "@lossforge/core";
 * const rows = [{ prompt: "Q", target: "A" }, { prompt: "Question", target: "A" }];
 * // T is the longest row (10), not maxLength: less padding for short batches.
 * const b = makeBatch(byteTokenizer(), rows, { maxLength: 128, padTo: "longest" });
 * console.log(b.batch, b.length); // 2 10
 * ```
 */
export interface BatchOptions extends EncodeOptions {
  /**
   * `"max"` (default): T = maxLength, a fixed shape; `"longest"`: T = the longest row of
   * this batch (at most maxLength).
   */
  padTo?: "max" | "longest";
}

/**
 * Encodes prompt/target pairs into one batch (see {@linkcode encodeExample} for the
 * semantics of each row).
 *
 * @param tokenizer The tokenizer.
 * @param examples Objects with `prompt` and `target` (a `Gsm8kExample` works).
 * @param options `maxLength`, `padSide` (default `"right"`), `addBos`, `padTo`.
 * @returns The batch, row-major `[B*T]` arrays.
 *
 * @example
 * ```ts
 * import { byteTokenizer, makeBatch } from "@lossforge/core";
 * const b = makeBatch(byteTokenizer(), [
 *   { prompt: "Question: 1+1?\nAnswer: ", target: "<<1+1=2>> #### 2" },
 *   { prompt: "Question: 2*3?\nAnswer: ", target: "<<2*3=6>> #### 6" },
 * ], { maxLength: 64, padSide: "left" });
 * console.log(b.batch, b.length, b.promptLengths); // 2 64 [24, 24]
 * ```
 */
export function makeBatch(
  tokenizer: Tokenizer,
  examples: readonly { prompt: string; target: string }[],
  options: BatchOptions,
): Batch {
  const { maxLength, padSide = "right", addBos = true, padTo = "max" } = options;
  checkLength("makeBatch", maxLength);
  checkPadSide("makeBatch", padSide);
  if (padTo !== "max" && padTo !== "longest") {
    throw new RangeError(
      `makeBatch: padTo must be "max" or "longest", got ${JSON.stringify(padTo)}`,
    );
  }
  if (examples.length === 0) throw new RangeError("makeBatch: examples is empty");
  const seqs = examples.map((e, i) => {
    if (typeof e?.prompt !== "string" || typeof e?.target !== "string") {
      throw new TypeError(`makeBatch: examples[${i}] needs string "prompt" and "target"`);
    }
    return buildSequence(tokenizer, e.prompt, e.target, maxLength, addBos);
  });
  const T = padTo === "max"
    ? maxLength
    : Math.max(1, ...seqs.map((s) => Math.max(0, s.seq.length - 1)));
  const B = examples.length;
  const out = {
    ids: new Int32Array(B * T),
    targets: new Int32Array(B * T),
    answerMask: new Float32Array(B * T),
    attention: new Float32Array(B * T),
  };
  const lengths = seqs.map((s, b) => layoutRow(s, T, tokenizer.pad, padSide, out, b * T));
  return {
    ...out,
    batch: B,
    length: T,
    promptLengths: seqs.map((s) => s.promptLength),
    lengths,
  };
}

/**
 * Prompts encoded for generation.
 *
 * @example
 * ```ts
 * import { byteTokenizer, promptBatch, type PromptBatch } from "@lossforge/core";
 * const p: PromptBatch = promptBatch(byteTokenizer(), ["Hi"]);
 * console.log(p.ids); // Int32Array [257, 72, 105]
 * ```
 */
export interface PromptBatch {
  /** Token ids, [B*T], row-major, pad id at padding. */
  ids: Int32Array;
  /** [B*T]: 1 at real tokens, 0 at padding. */
  attention: Float32Array;
  /** B. */
  batch: number;
  /** T: the longest prompt (at most maxLength). */
  length: number;
  /** Real tokens per row. */
  lengths: number[];
}

/**
 * Encodes prompts for generation: `[bos] + prompt` per row, padded (left by default, so
 * every row's last token is at position T-1 and generation appends after it). With
 * `maxLength`, long prompts are truncated from the left (bos kept).
 *
 * @param tokenizer The tokenizer.
 * @param prompts The prompt texts.
 * @param options `padSide` (default `"left"`), `maxLength`, `addBos` (default true).
 * @returns The ids, attention mask, shape and per-row lengths.
 *
 * @example
 * ```ts
 * import { byteTokenizer, promptBatch } from "@lossforge/core";
 * const p = promptBatch(byteTokenizer(), ["a", "bcd"], { padSide: "left" });
 * console.log(p.length, p.lengths); // 4 [2, 4]
 * console.log(Array.from(p.ids)); // [256, 256, 257, 97, 257, 98, 99, 100]
 * ```
 */
export function promptBatch(
  tokenizer: Tokenizer,
  prompts: readonly string[],
  options: { padSide?: PadSide; maxLength?: number; addBos?: boolean } = {},
): PromptBatch {
  const { padSide = "left", maxLength, addBos = true } = options;
  checkPadSide("promptBatch", padSide);
  if (maxLength !== undefined) checkLength("promptBatch", maxLength);
  if (prompts.length === 0) throw new RangeError("promptBatch: prompts is empty");
  const head = addBos && tokenizer.bos !== undefined ? [tokenizer.bos] : [];
  const rows = prompts.map((text, i) => {
    if (typeof text !== "string") {
      throw new TypeError(`promptBatch: prompts[${i}] must be a string, got ${typeof text}`);
    }
    let p = tokenizer.encode(text);
    if (maxLength !== undefined && head.length + p.length > maxLength) {
      p = p.slice(Math.min(p.length, p.length - (maxLength - head.length)));
    }
    return [...head, ...p].slice(0, maxLength);
  });
  const T = Math.max(1, ...rows.map((r) => r.length));
  const B = rows.length;
  const ids = new Int32Array(B * T).fill(tokenizer.pad);
  const attention = new Float32Array(B * T);
  rows.forEach((r, b) => {
    const start = b * T + (padSide === "left" ? T - r.length : 0);
    for (let i = 0; i < r.length; i++) {
      ids[start + i] = r[i];
      attention[start + i] = 1;
    }
  });
  return { ids, attention, batch: B, length: T, lengths: rows.map((r) => r.length) };
}

/**
 * Decoders of `tokenizer.json`: they turn the token strings of the model's ids back into
 * text. As in Hugging Face, a decoder maps a list of token strings to a list of strings whose
 * concatenation is the text, so decoders chain; each `type` is one entry of
 * {@linkcode DECODERS}.
 *
 * @module
 */

import { show } from "../util/show.ts";
import { byteLevelDecodeToken, UTF8_ENCODER } from "./byte_level.ts";
import { buildFromTable, type ComponentBuilder, type Json, stringField } from "./hf_json.ts";
import { replaceAll } from "./normalizers.ts";
import { patternRegex } from "./regex.ts";
import { metaspaceReplacement, metaspaceScheme } from "./pre_tokenizers.ts";

/** A decoder: token strings in, strings out (the text is their concatenation). */
export type Decoder = (tokens: string[]) => string[];

/** Strict UTF-8: invalid bytes throw, so a caller can tell valid sequences apart. */
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Byte-level decoding: each token's chars back to its bytes through GPT-2's map (a token
 * with a char outside the map stands for its own UTF-8 bytes), all bytes joined, then read
 * as UTF-8 with U+FFFD for invalid sequences, so a character split across tokens comes back
 * whole.
 */
function byteLevelDecoder(): Decoder {
  const bytesOf = new Map<string, Uint8Array>();
  const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
  return (tokens) => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (const tok of tokens) {
      let bytes = bytesOf.get(tok);
      if (bytes === undefined) {
        bytes = byteLevelDecodeToken(tok) ?? UTF8_ENCODER.encode(tok);
        bytesOf.set(tok, bytes);
      }
      chunks.push(bytes);
      total += bytes.length;
    }
    const all = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      all.set(c, o);
      o += c.length;
    }
    return [utf8.decode(all)];
  };
}

/**
 * The byte of a byte-fallback token `<0xNN>`, or undefined. Rust's `u8::from_str_radix`
 * reads the two chars, so a `+` sign before one hex digit counts too.
 */
function fallbackByte(token: string): number | undefined {
  const m = /^<0x(\+[0-9A-Fa-f]|[0-9A-Fa-f]{2})>$/.exec(token);
  return m ? parseInt(m[1], 16) : undefined;
}

/**
 * Byte-fallback decoding: runs of `<0xNN>` tokens become the text their bytes spell in UTF-8;
 * a run that is not valid UTF-8 becomes one U+FFFD per byte, as Hugging Face writes it.
 */
function byteFallbackDecoder(): Decoder {
  return (tokens) => {
    const out: string[] = [];
    let bytes: number[] = [];
    const flush = () => {
      if (bytes.length === 0) return;
      try {
        out.push(STRICT_UTF8.decode(Uint8Array.from(bytes)));
      } catch {
        for (let i = 0; i < bytes.length; i++) out.push("\uFFFD");
      }
      bytes = [];
    };
    for (const tok of tokens) {
      const b = fallbackByte(tok);
      if (b !== undefined) bytes.push(b);
      else {
        flush();
        out.push(tok);
      }
    }
    flush();
    return out;
  };
}

/** A non-negative integer field of a decoder spec (absent: 0). */
function countField(spec: Record<string, Json>, field: string, where: string): number {
  const v = spec[field] ?? 0;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
    throw new Error(
      `${where}: ${spec.type}.${field} must be a non-negative integer, got ${show(v)}`,
    );
  }
  return v;
}

/**
 * The decoders by `type`. A new type is one more entry: its builder gets the spec object and
 * where it sits (for error messages).
 */
export const DECODERS: Record<string, ComponentBuilder<Decoder>> = {
  ByteLevel: () => byteLevelDecoder(),
  /** Each match of `pattern` in each token replaced by `content`. */
  Replace(spec, where) {
    const re = patternRegex(spec.pattern, where, "Replace.pattern");
    const content = stringField(spec, "content", where);
    return (tokens) => tokens.map((t) => replaceAll(t, re, content));
  },
  ByteFallback: () => byteFallbackDecoder(),
  /** All tokens joined into one string. */
  Fuse: () => (tokens) => [tokens.join("")],
  /** Up to `start` leading and `stop` trailing `content` chars cut from each token. */
  Strip(spec, where) {
    const content = stringField(spec, "content", where);
    if ([...content].length !== 1) {
      throw new Error(`${where}: Strip.content must be one character, got ${show(content)}`);
    }
    const start = countField(spec, "start", where);
    const stop = countField(spec, "stop", where);
    return (tokens) =>
      tokens.map((t) => {
        const chars = [...t];
        let from = 0;
        while (from < Math.min(start, chars.length) && chars[from] === content) from++;
        let to = chars.length;
        for (let i = 0; i < stop && to > from && chars[to - 1] === content; i++) to--;
        return from === 0 && to === chars.length ? t : chars.slice(from, to).join("");
      });
  },
  /**
   * SentencePiece's word marker back to spaces; in the first token the marker is dropped
   * instead, unless `prepend_scheme` is `never` (the encoder put it there).
   */
  Metaspace(spec, where) {
    const rep = metaspaceReplacement(spec, where);
    const dropFirst = metaspaceScheme(spec, where) !== "never";
    return (tokens) => tokens.map((t, i) => t.replaceAll(rep, i === 0 && dropFirst ? "" : " "));
  },
  /** `suffix` (end of word) as a space, except in the last token, where it goes. */
  BPEDecoder(spec, where) {
    const suffix = spec.suffix === undefined ? "</w>" : stringField(spec, "suffix", where);
    return (tokens) =>
      tokens.map((t, i) =>
        suffix === "" ? t : t.replaceAll(suffix, i === tokens.length - 1 ? "" : " ")
      );
  },
  Sequence(spec, where) {
    const list = spec.decoders;
    if (!Array.isArray(list)) {
      throw new Error(`${where}: decoder.decoders must be an array, got ${show(list)}`);
    }
    const steps = list.map((d, i) =>
      buildFromTable("decoder", DECODERS, d, `${where}.decoders[${i}]`)
    );
    return (tokens) => steps.reduce((acc, step) => step(acc), tokens);
  },
};

/**
 * The decoder a `tokenizer.json` `decoder` spec describes. Without one (null or absent),
 * Hugging Face joins the tokens with spaces; a byte-level tokenizer (`byteLevel`) is read
 * with the `ByteLevel` decoder instead, since its ids can only decode that way.
 */
export function buildDecoder(spec: Json | undefined, where: string, byteLevel: boolean): Decoder {
  if (spec === null || spec === undefined) {
    return byteLevel ? byteLevelDecoder() : (tokens) => [tokens.join(" ")];
  }
  return buildFromTable("decoder", DECODERS, spec, `${where}: decoder`);
}

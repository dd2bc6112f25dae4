/**
 * Decoders of `tokenizer.json`: they turn the token strings of the model's ids back into
 * text. As in Hugging Face, a decoder maps a list of token strings to a list of strings whose
 * concatenation is the text, so decoders chain; each `type` is one entry of
 * {@linkcode DECODERS}.
 *
 * @module
 */

import { isObject } from "../util/show.ts";
import { byteLevelDecodeToken, UTF8_ENCODER } from "./byte_level.ts";
import type { ComponentBuilder, Json } from "./hf_json.ts";

/** A decoder: token strings in, strings out (the text is their concatenation). */
export type Decoder = (tokens: string[]) => string[];

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
 * The decoders by `type`. A new type is one more entry: its builder gets the spec object and
 * where it sits (for error messages).
 */
export const DECODERS: Record<string, ComponentBuilder<Decoder>> = {
  ByteLevel: () => byteLevelDecoder(),
};

/**
 * The decoder a `tokenizer.json` `decoder` spec describes. The model this loader takes is a
 * byte-level BPE, whose ids decode byte-level whatever the file says, so an absent decoder,
 * or one whose type has no entry in {@linkcode DECODERS}, is read as `ByteLevel`.
 */
export function buildDecoder(spec: Json | undefined, where: string): Decoder {
  if (isObject<Json>(spec) && typeof spec.type === "string" && Object.hasOwn(DECODERS, spec.type)) {
    return DECODERS[spec.type](spec, where);
  }
  return DECODERS.ByteLevel({}, where);
}

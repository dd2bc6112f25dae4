/**
 * GPT-2's byte-to-unicode map: each of the 256 byte values stands for one printable
 * character, so a byte-level BPE vocabulary is a set of ordinary strings.
 *
 * @module
 */

const BYTE_TO_CHAR: string[] = (() => {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const table = new Array<string>(256);
  for (const b of bs) table[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) {
      table[b] = String.fromCharCode(256 + n);
      n++;
    }
  }
  return table;
})();

const CHAR_TO_BYTE: Map<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/** The one UTF-8 encoder of the tokenizers (a TextEncoder holds no state). */
export const UTF8_ENCODER: TextEncoder = new TextEncoder();

/**
 * Map a string's UTF-8 bytes through the GPT-2 byte-to-unicode table.
 *
 * @example
 * ```ts
 * import { byteLevelEncode } from "@lossforge/core";
 * console.log(byteLevelEncode(" hi")); // "Ġhi"
 * ```
 */
export function byteLevelEncode(text: string): string {
  const bytes = UTF8_ENCODER.encode(text);
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += BYTE_TO_CHAR[bytes[i]];
  return out;
}

/**
 * Invert {@linkcode byteLevelEncode} for one token: its chars back to bytes. Returns
 * `undefined` when a char is not in the byte-level alphabet.
 *
 * @example
 * ```ts
 * import { byteLevelDecodeToken } from "@lossforge/core";
 * console.log(byteLevelDecodeToken("Ġhi")); // Uint8Array [32, 104, 105]
 * ```
 */
export function byteLevelDecodeToken(token: string): Uint8Array | undefined {
  const out: number[] = [];
  for (const ch of token) {
    const b = CHAR_TO_BYTE.get(ch);
    if (b === undefined) return undefined;
    out.push(b);
  }
  return Uint8Array.from(out);
}

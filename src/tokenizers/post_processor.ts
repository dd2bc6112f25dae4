/**
 * Post-processors of `tokenizer.json`: what `encode` with `addSpecialTokens` adds around the
 * ids of a sequence (BOS first for Llama-3, for example). Each `type` is one entry of
 * {@linkcode POST_PROCESSORS}.
 *
 * @module
 */

import { isObject, show } from "../util/show.ts";
import type { Json, JsonObject } from "./hf_json.ts";

/** A post-processor: the ids of one encoded sequence in, with its special tokens out. */
export type PostProcessor = (ids: number[]) => number[];

/**
 * Builds a post-processor from its spec (null: it adds nothing); `tokenToId` looks up the
 * special tokens it names and `where` names the file in errors.
 */
export type PostProcessorBuilder = (
  spec: JsonObject,
  where: string,
  tokenToId: (token: string) => number | undefined,
) => PostProcessor | null;

/**
 * The post-processors by `type`. A new type is one more entry; types without one add
 * nothing.
 */
export const POST_PROCESSORS: Record<string, PostProcessorBuilder> = {
  /** The `single` template: its special tokens, with `$` (the sequence) replaced by the ids. */
  TemplateProcessing(post, where, tokenToId) {
    if (!Array.isArray(post.single)) return null;
    const tpl: (string | number)[] = [];
    for (const piece of post.single) {
      if (
        isObject<Json>(piece) && isObject<Json>(piece.SpecialToken) &&
        typeof piece.SpecialToken.id === "string"
      ) {
        const content = piece.SpecialToken.id;
        const specials = post.special_tokens;
        let ids: number[] | undefined;
        if (isObject<Json>(specials) && isObject<Json>(specials[content])) {
          const listed = (specials[content] as JsonObject).ids;
          if (Array.isArray(listed) && listed.every((x) => typeof x === "number")) {
            ids = listed as number[];
          }
        }
        const byName = tokenToId(content);
        ids ??= byName === undefined ? undefined : [byName];
        if (ids === undefined) {
          throw new Error(
            `${where}: post_processor special token ${show(content)} is not a token`,
          );
        }
        tpl.push(...ids);
      } else if (isObject<Json>(piece) && isObject<Json>(piece.Sequence)) {
        tpl.push("$");
      }
    }
    return (ids) => {
      const out: number[] = [];
      for (const t of tpl) {
        if (typeof t === "number") out.push(t);
        else out.push(...ids);
      }
      return out;
    };
  },
  /** `[CLS] ids [SEP]` with the `cls` and `sep` pairs `[token, id]` of the spec. */
  BertProcessing: clsSep,
  RobertaProcessing: clsSep,
  /** Byte-level offsets trimming only: no ids added. */
  ByteLevel: () => null,
  /** The `processors` in order. */
  Sequence(post, where, tokenToId) {
    const list = post.processors;
    if (!Array.isArray(list)) {
      throw new Error(`${where}: post_processor.processors must be an array, got ${show(list)}`);
    }
    const steps = list.map((p) => buildPostProcessor(p, where, tokenToId))
      .filter((p): p is PostProcessor => p !== null);
    return (ids) => steps.reduce((acc, step) => step(acc), ids);
  },
};

/** The `cls` + ids + `sep` layout of `BertProcessing` and `RobertaProcessing`. */
function clsSep(post: JsonObject, where: string): PostProcessor {
  const pairId = (field: string): number => {
    const v = post[field];
    if (!Array.isArray(v) || v.length !== 2 || typeof v[1] !== "number") {
      throw new Error(
        `${where}: post_processor.${field} must be [token, id], got ${show(v)}`,
      );
    }
    return v[1];
  };
  const cls = pairId("cls"), sep = pairId("sep");
  return (ids) => [cls, ...ids, sep];
}

/**
 * The post-processor a `tokenizer.json` `post_processor` spec describes, or null when it adds
 * nothing (absent, or a type without an entry in {@linkcode POST_PROCESSORS}).
 */
export function buildPostProcessor(
  spec: Json | undefined,
  where: string,
  tokenToId: (token: string) => number | undefined,
): PostProcessor | null {
  if (!isObject<Json>(spec) || typeof spec.type !== "string") return null;
  if (!Object.hasOwn(POST_PROCESSORS, spec.type)) return null;
  return POST_PROCESSORS[spec.type](spec, where, tokenToId);
}

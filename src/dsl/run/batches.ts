/**
 * The training batch stream: examples shuffled once per epoch by a permutation derived
 * from the seed and the epoch number, read in order. Its whole state is `{ epoch, index }`,
 * so a checkpoint can store it and a resumed run sees exactly the same batches.
 *
 * @module
 */

import { type Batch, deriveSeed, makeBatch, seededRandom, shuffleInPlace } from "../../data/mod.ts";
import type { Tokenizer } from "../../tokenizers/mod.ts";
import type { Example } from "../spec/types.ts";

/**
 * Where a {@linkcode BatchStream} is: the epoch and the next example's index in that
 * epoch's permutation.
 *
 * @example
 * ```ts
 * import { BatchStream, byteTokenizer, type DataPosition } from "@lossforge/core";
 * const examples = [{ prompt: "1+1=", target: "2" }, { prompt: "2+2=", target: "4" }];
 * const opts = { batchSize: 1, maxLength: 8, seed: 42 };
 * const stream = new BatchStream(examples, byteTokenizer(), opts);
 * stream.next();
 * stream.next();
 * stream.next();
 * const at: DataPosition = stream.position;
 * console.log(at); // { epoch: 1, index: 1 }
 * // A stream started at `at` yields what `stream` yields next.
 * const again = new BatchStream(examples, byteTokenizer(), opts, at);
 * ```
 */
export interface DataPosition {
  /** Completed passes over the data. */
  epoch: number;
  /** The next example's index within this epoch's order. */
  index: number;
}

/**
 * Options of {@linkcode BatchStream}.
 *
 * @example
 * ```ts
 * import { BatchStream, byteTokenizer, gsm8kSynthetic } from "@lossforge/core";
 * const examples = gsm8kSynthetic({ count: 100 });
 * const opts = { batchSize: 8, maxLength: 64, seed: 42 };
 * const stream = new BatchStream(examples, byteTokenizer(), opts);
 * const batch = stream.next();
 * console.log(batch.batch, batch.length, stream.batchesPerEpoch); // 8 64 12
 * ```
 */
export interface BatchStreamOptions {
  /** Examples per batch. */
  batchSize: number;
  /** Positions per row. */
  maxLength: number;
  /** Shuffling seed. */
  seed: number;
  /** Padding side (default `"right"`). */
  padSide?: "left" | "right";
}

/**
 * An endless, resumable stream of training batches. A final partial batch of an epoch is
 * dropped (every batch has the same shape, which keeps GPU buffers reusable).
 *
 * @example
 * ```ts
 * import { BatchStream, byteTokenizer } from "@lossforge/core";
 * const ex = [{ prompt: "a", target: "b" }, { prompt: "c", target: "d" }];
 * const opts = { batchSize: 1, maxLength: 4, seed: 0 };
 * const s = new BatchStream(ex, byteTokenizer(), opts);
 * s.next();
 * const again = new BatchStream(ex, byteTokenizer(), opts, s.position);
 * console.log(again.next().ids.join() === s.next().ids.join()); // true
 * ```
 */
export class BatchStream {
  readonly #examples: readonly Example[];
  readonly #tokenizer: Tokenizer;
  readonly #options: BatchStreamOptions;
  #epoch: number;
  #index: number;
  #order: number[] = [];
  #orderEpoch = -1;

  /** Starts at `position` (default the beginning). */
  constructor(
    examples: readonly Example[],
    tokenizer: Tokenizer,
    options: BatchStreamOptions,
    position: DataPosition = { epoch: 0, index: 0 },
  ) {
    if (examples.length < options.batchSize) {
      throw new RangeError(
        `batchSize ${options.batchSize} is larger than the ${examples.length} training examples`,
      );
    }
    this.#examples = examples;
    this.#tokenizer = tokenizer;
    this.#options = options;
    this.#epoch = position.epoch;
    this.#index = position.index;
  }

  /** Full batches per epoch. */
  get batchesPerEpoch(): number {
    return Math.floor(this.#examples.length / this.#options.batchSize);
  }

  /** The position of the next batch (a copy). */
  get position(): DataPosition {
    return { epoch: this.#epoch, index: this.#index };
  }

  /** The next batch. */
  next(): Batch {
    const { batchSize, maxLength, padSide } = this.#options;
    if (this.#index + batchSize > this.#examples.length) {
      this.#epoch++;
      this.#index = 0;
    }
    const order = this.#orderOf(this.#epoch);
    const rows = order.slice(this.#index, this.#index + batchSize).map((i) => this.#examples[i]);
    this.#index += batchSize;
    return makeBatch(this.#tokenizer, rows, { maxLength, padSide: padSide ?? "right" });
  }

  #orderOf(epoch: number): number[] {
    if (this.#orderEpoch !== epoch) {
      const rng = seededRandom(deriveSeed(this.#options.seed, `dsl/epoch/${epoch}`));
      this.#order = shuffleInPlace(Array.from(this.#examples, (_, i) => i), rng);
      this.#orderEpoch = epoch;
    }
    return this.#order;
  }
}

/**
 * The name generator: monotonic 63-bit ids per generator, unique across
 * nodes by node id, safe when the wall clock steps back.
 *
 * @module
 */

import { DesConfigError, DesInputError } from "../core/errors.ts";
import { composeId, DES_EPOCH_MS, MAX_SEQUENCE, MAX_TIMESTAMP } from "./id_layout.ts";
import { encodeWords, idWords, shardOfWords } from "./id_words.ts";
import { type DesName, formatName, shardHexWidth } from "./name_codec.ts";
import { type NamingConfig, validateNamingConfig } from "./naming_config.ts";

/** Largest batch {@linkcode NameGenerator.nextBatch} hands out at once. */
export const MAX_BATCH = 1_000_000;

/** Options of a {@linkcode NameGenerator}. */
export interface NameGeneratorOptions extends NamingConfig {
  /** Wall clock in Unix milliseconds; defaults to `Date.now`. */
  clock?: () => number;
}

/**
 * Hands out names. Within one generator ids strictly increase: when the clock
 * steps back, the generator keeps the last timestamp and advances the
 * sequence; when 4096 ids are taken in one millisecond, it borrows the next
 * millisecond. Two generators must not share a node id.
 */
export class NameGenerator {
  /** The configuration names are made with. */
  readonly config: Readonly<NamingConfig>;
  readonly #clock: () => number;
  #lastTimestamp = -1;
  #lastSequence = MAX_SEQUENCE;

  /** @param options node id, shard bits, prefix and an optional clock */
  constructor(options: NameGeneratorOptions) {
    const config = { nodeId: options.nodeId, shardBits: options.shardBits, prefix: options.prefix };
    validateNamingConfig(config);
    this.config = Object.freeze(config);
    this.#clock = options.clock ?? Date.now;
  }

  /** The next id. Throws `DesConfigError` if the clock is before 2024 or past 2093. */
  nextId(): bigint {
    this.#advance();
    return composeId({
      timestamp: this.#lastTimestamp,
      nodeId: this.config.nodeId,
      sequence: this.#lastSequence,
    });
  }

  /** The next name. */
  next(): DesName {
    return formatName(this.nextId(), this.config);
  }

  /**
   * The next `count` names (1..{@linkcode MAX_BATCH}), in increasing id
   * order: the same names `next()` would give, made on plain numbers
   * (`id_words.ts`) instead of `bigint`s.
   */
  nextBatch(count: number): DesName[] {
    if (!Number.isInteger(count) || count < 1 || count > MAX_BATCH) {
      throw new DesInputError(`count must be an integer in 1..${MAX_BATCH}, got ${count}`, {
        count,
      });
    }
    const { nodeId, shardBits, prefix } = this.config;
    const head = prefix === "" ? "" : `${prefix}-`;
    const width = shardHexWidth(shardBits);
    const names = new Array<DesName>(count);
    for (let i = 0; i < count; i++) {
      this.#advance();
      const { hi, lo } = idWords(this.#lastTimestamp, nodeId, this.#lastSequence);
      const shard = shardOfWords(hi, lo, shardBits).toString(16).padStart(width, "0");
      names[i] = `${head}${shard}-${encodeWords(hi, lo)}` as DesName;
    }
    return names;
  }

  /** Take the next (timestamp, sequence) pair, as the class doc describes. */
  #advance(): void {
    const reading = this.#clock();
    if (!Number.isFinite(reading)) {
      throw new DesConfigError(`the clock returned ${reading}`, { clock: String(reading) });
    }
    const now = Math.floor(reading) - DES_EPOCH_MS;
    if (now < 0 && this.#lastTimestamp < 0) {
      throw new DesConfigError("the clock reads before the DES epoch 2024-01-01T00:00:00Z", {
        clock: new Date(now + DES_EPOCH_MS).toISOString(),
      });
    }
    if (now > this.#lastTimestamp) {
      this.#lastTimestamp = now;
      this.#lastSequence = 0;
    } else if (this.#lastSequence < MAX_SEQUENCE) {
      this.#lastSequence++;
    } else {
      this.#lastTimestamp++;
      this.#lastSequence = 0;
    }
    if (this.#lastTimestamp > MAX_TIMESTAMP) {
      throw new DesConfigError("the DES id space is exhausted (timestamp beyond 41 bits)", {
        timestamp: this.#lastTimestamp,
      });
    }
  }
}

/**
 * The two content checksums of the format: CRC-32C (Castagnoli, via
 * hash-wasm) for fast checks on every read, and SHA-256 (node:crypto) as the
 * strong digest. One shared hash-wasm instance serves all CRC computations;
 * an incremental {@linkcode Crc32c} keeps its own state between chunks, so
 * any number of streams can be checked concurrently.
 *
 * @module
 */

import { createCRC32 } from "hash-wasm";
import { createHash, type Hash } from "node:crypto";
import { CRC32C_POLYNOMIAL } from "./constants.ts";

const shared = await createCRC32(CRC32C_POLYNOMIAL);

function digestToNumber(hex: string): number {
  return parseInt(hex, 16) >>> 0;
}

/** CRC-32C of `bytes`, as an unsigned 32-bit number. */
export function crc32c(bytes: Uint8Array): number {
  return digestToNumber(shared.init().update(bytes).digest("hex"));
}

/** An incremental CRC-32C whose state lives outside the shared hasher. */
export class Crc32c {
  #state: Uint8Array = shared.init().save();

  /** Add bytes. */
  update(bytes: Uint8Array): this {
    this.#state = shared.load(this.#state).update(bytes).save();
    return this;
  }

  /** The CRC-32C of everything added so far. */
  digest(): number {
    return digestToNumber(shared.load(this.#state).digest("hex"));
  }

  /** Start over, as if nothing had been added. */
  reset(): this {
    this.#state = shared.init().save();
    return this;
  }
}

function asBytes(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** SHA-256 of `bytes`. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return asBytes(createHash("sha256").update(bytes).digest());
}

/** An incremental SHA-256. */
export class Sha256 {
  #hash: Hash = createHash("sha256");

  /** Add bytes. */
  update(bytes: Uint8Array): this {
    this.#hash.update(bytes);
    return this;
  }

  /** The digest; the instance cannot be updated afterwards. */
  digest(): Uint8Array {
    return asBytes(this.#hash.digest());
  }
}

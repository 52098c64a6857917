/**
 * The two content checksums of the format: CRC-32C (Castagnoli, in
 * JavaScript, see `crc32c.ts`) for fast checks on every read, and SHA-256
 * (node:crypto, native) as the strong digest. An incremental
 * {@linkcode Crc32c} is one number of state, so any number of streams can be
 * checked concurrently.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { updateCrc32c } from "./crc32c.ts";

/** CRC-32C of `bytes`, as an unsigned 32-bit number. */
export function crc32c(bytes: Uint8Array): number {
  return updateCrc32c(0, bytes);
}

/** An incremental CRC-32C. */
export class Crc32c {
  #crc = 0;

  /** Add bytes. */
  update(bytes: Uint8Array): this {
    this.#crc = updateCrc32c(this.#crc, bytes);
    return this;
  }

  /** The CRC-32C of everything added so far. */
  digest(): number {
    return this.#crc;
  }

  /** Start over, as if nothing had been added. */
  reset(): this {
    this.#crc = 0;
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

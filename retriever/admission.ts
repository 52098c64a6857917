/**
 * Scan-resistant admission for the byte cache: a bounded "doorkeeper" of
 * recently missed keys. A key is admitted on its second miss within the
 * doorkeeper's memory, so a one-off scan over many files never displaces
 * the hot set — it only passes through the doorkeeper.
 *
 * @module
 */

/** Second-hit admission over a bounded set of 32-bit key hashes. */
export class SecondHitAdmission {
  readonly #seen = new Set<number>();
  readonly #capacity: number;

  /** @param capacity most key hashes remembered (oldest forgotten first; default 65 536) */
  constructor(capacity = 65_536) {
    this.#capacity = Math.max(1, capacity);
  }

  /**
   * Record a miss of `key`; true when it was already seen (admit it now).
   * A hash collision admits a key one miss early, which costs only space.
   */
  admit(key: string): boolean {
    const h = fnv1a(key);
    if (this.#seen.delete(h)) return true;
    this.#seen.add(h);
    if (this.#seen.size > this.#capacity) {
      // Sets iterate in insertion order: the first value is the oldest.
      this.#seen.delete(this.#seen.values().next().value!);
    }
    return false;
  }

  /** Key hashes remembered now. */
  get size(): number {
    return this.#seen.size;
  }
}

/** FNV-1a of a string's UTF-16 code units, as an unsigned 32-bit number. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

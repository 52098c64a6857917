/**
 * The shard of an id: the top `shardBits` bits of the SplitMix64 finalizer
 * applied to the id. The mix is a fixed, published bijection on 64-bit
 * integers with full avalanche, so consecutive ids spread evenly over shards.
 *
 * Because the shard is a prefix of one 64-bit hash, the shard under `b - 1`
 * bits is the shard under `b` bits shifted right by one: growing the shard
 * bits splits every shard in two, and shrinking merges neighbours.
 *
 * @module
 */

const MASK64 = (1n << 64n) - 1n;

/** SplitMix64 finalizer (Steele, Lea, Flood 2014): a 64-bit bijective mix. */
export function mix64(x: bigint): bigint {
  let z = x & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/** The shard (0..2^shardBits-1) of an id under `shardBits` (1..16) bits. */
export function shardOfId(id: bigint, shardBits: number): number {
  return Number(mix64(id) >> BigInt(64 - shardBits));
}

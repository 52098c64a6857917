/**
 * Who the client is, by address. The peer of the TCP connection is the
 * client unless it is a trusted proxy (`DES_GATEWAY_TRUSTED_PROXIES`,
 * CIDRs): then the client is the right-most address in `Forwarded`
 * (or, without it, `X-Forwarded-For`) that is not itself a trusted proxy.
 * Headers from untrusted peers are ignored, so a client cannot choose its
 * own address. IPv6 clients are grouped by /64 for rate limiting, since one
 * host commonly holds a whole /64.
 *
 * @module
 */

import { DesConfigError } from "../core/errors.ts";

/** An IP address as a number and its family. */
export interface IpAddress {
  /** 4 or 6. */
  family: 4 | 6;
  /** The address as an unsigned integer (32 or 128 bits). */
  value: bigint;
}

/** A CIDR block. */
export interface Cidr {
  /** Network address. */
  base: IpAddress;
  /** Prefix length in bits. */
  bits: number;
}

/** Longest forwarding header looked at; a longer one is ignored (the peer is the client). */
export const MAX_FORWARDED_LENGTH = 4096;

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    value = (value << 8n) | BigInt(Number(p));
  }
  return value;
}

function parseIpv6(text: string): bigint | undefined {
  let t = text;
  const zone = t.indexOf("%");
  if (zone >= 0) t = t.slice(0, zone);
  const lastColon = t.lastIndexOf(":");
  if (t.includes(".")) {
    // An embedded IPv4 tail (`::ffff:1.2.3.4`) becomes two hex groups.
    const v4 = parseIpv4(t.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    t = `${t.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = t.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [
    ...head,
    ...new Array<string>(halves.length === 2 ? missing : 0).fill("0"),
    ...tail,
  ];
  let value = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    value = (value << 16n) | BigInt(`0x${g}`);
  }
  return value;
}

/**
 * Parse an IPv4 or IPv6 address (brackets and a zone id allowed); an
 * IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is the IPv4 address.
 * `undefined` when it is not an address.
 */
export function parseIp(text: string): IpAddress | undefined {
  let t = text.trim();
  if (t.length > 64) return undefined;
  if (t.startsWith("[") && t.endsWith("]")) t = t.slice(1, -1);
  if (!t.includes(":")) {
    const v4 = parseIpv4(t);
    return v4 === undefined ? undefined : { family: 4, value: v4 };
  }
  const v6 = parseIpv6(t);
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === 0xffffn) return { family: 4, value: v6 & 0xffffffffn };
  return { family: 6, value: v6 };
}

/** Text form of an address (IPv6 as eight lowercase groups without compression). */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join(".");
  }
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((ip.value >> s) & 0xffffn).toString(16));
  return groups.join(":");
}

/**
 * The rate-limit key of an address: IPv4 as is, IPv6 by its /64
 * (`2001:db8:0:1::/64`). Text that is not an address is its own key.
 */
export function addressKey(address: string): string {
  const ip = parseIp(address);
  if (!ip) return address;
  if (ip.family === 4) return formatIp(ip);
  return `${
    formatIp({ family: 6, value: (ip.value >> 64n) << 64n }).split(":").slice(0, 4).join(":")
  }::/64`;
}

/** Parse `DES_GATEWAY_TRUSTED_PROXIES`: comma-separated CIDRs or single addresses. */
export function parseCidrs(text: string | undefined): Cidr[] {
  if (!text || text.trim() === "") return [];
  return text.split(",").map((entry) => {
    const [addr, bitsText, extra] = entry.trim().split("/");
    const base = parseIp(addr);
    const max = base?.family === 4 ? 32 : 128;
    const bits = bitsText === undefined ? max : Number(bitsText);
    if (!base || extra !== undefined || !Number.isInteger(bits) || bits < 0 || bits > max) {
      throw new DesConfigError(
        `DES_GATEWAY_TRUSTED_PROXIES: ${JSON.stringify(entry.trim().slice(0, 60))} is not a CIDR ` +
          "such as 10.0.0.0/8 or fd00::/8",
        { setting: "DES_GATEWAY_TRUSTED_PROXIES" },
      );
    }
    return { base, bits };
  });
}

/** Whether `ip` lies in `cidr`. */
export function inCidr(ip: IpAddress, cidr: Cidr): boolean {
  if (ip.family !== cidr.base.family) return false;
  const width = ip.family === 4 ? 32n : 128n;
  const shift = width - BigInt(cidr.bits);
  return (ip.value >> shift) === (cidr.base.value >> shift);
}

/** The `for=` addresses of a `Forwarded` header, first to last; `undefined` when malformed. */
function forwardedFor(value: string): string[] | undefined {
  const found: string[] = [];
  for (const element of value.split(",")) {
    for (const pair of element.split(";")) {
      const eq = pair.indexOf("=");
      if (eq < 0) continue;
      if (pair.slice(0, eq).trim().toLowerCase() !== "for") continue;
      let v = pair.slice(eq + 1).trim();
      if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
      found.push(stripPort(v));
    }
  }
  return found;
}

/** `1.2.3.4:80` → `1.2.3.4`, `[::1]:80` → `::1`; other text unchanged. */
function stripPort(v: string): string {
  if (v.startsWith("[")) {
    const close = v.indexOf("]");
    return close > 0 ? v.slice(1, close) : v;
  }
  const colon = v.indexOf(":");
  return colon > 0 && colon === v.lastIndexOf(":") ? v.slice(0, colon) : v;
}

/** Read-only request headers. */
export interface HeaderSource {
  /** Value of a header or `null`. */
  get(name: string): string | null;
}

/** Peers seen recently, normalized: a gateway's clients are few (often one front proxy). */
const normalizedPeers = new Map<string, string>();
const NORMALIZED_PEERS_KEPT = 1024;

/** `peer` in canonical form (`formatIp`), or as it is when it is not an address. */
function normalizedPeer(peer: string): string {
  let text = normalizedPeers.get(peer);
  if (text === undefined) {
    const ip = parseIp(peer);
    text = ip ? formatIp(ip) : peer;
    if (normalizedPeers.size >= NORMALIZED_PEERS_KEPT) normalizedPeers.clear();
    normalizedPeers.set(peer, text);
  }
  return text;
}

/**
 * The client address of a request from `peer`. Unless `peer` is in
 * `trusted`, it is `peer` itself. Otherwise the forwarding chain is walked
 * from the right, skipping trusted proxies; a value that is not an address
 * (`unknown`, an obfuscated id, garbage) stops the walk at the last proxy.
 * The result is always a formatted address or `peer`.
 */
export function clientAddress(
  peer: string,
  headers: HeaderSource,
  trusted: readonly Cidr[],
): string {
  if (trusted.length === 0) return normalizedPeer(peer);
  const isTrusted = (ip: IpAddress) => trusted.some((c) => inCidr(ip, c));
  const peerIp = parseIp(peer);
  if (!peerIp || !isTrusted(peerIp)) {
    return peerIp ? formatIp(peerIp) : peer;
  }
  const forwarded = headers.get("forwarded");
  const xff = headers.get("x-forwarded-for");
  let chain: string[] | undefined;
  if (forwarded !== null) {
    chain = forwarded.length <= MAX_FORWARDED_LENGTH ? forwardedFor(forwarded) : undefined;
  } else if (xff !== null) {
    chain = xff.length <= MAX_FORWARDED_LENGTH ? xff.split(",").map((s) => s.trim()) : undefined;
  }
  let client = peerIp;
  for (const hop of (chain ?? []).toReversed()) {
    const ip = parseIp(hop);
    if (!ip) break;
    client = ip;
    if (!isTrusted(ip)) break;
  }
  return formatIp(client);
}

/**
 * HTTP byte ranges and conditional requests (RFC 9110 §13–14) as pure
 * functions: parse `Range`, entity tags and HTTP dates, and decide which
 * response a static representation gets — 200, 206, 304, 412 or 416 — the
 * way nginx serves a static file.
 *
 * Choices where the RFC leaves room (all documented in `docs/http-api.md`):
 * - a syntactically malformed `Range` (or another unit) is ignored → 200;
 * - a `Range` longer than {@linkcode MAX_RANGE_HEADER_LENGTH} characters is
 *   ignored without being parsed → 200;
 * - more than one range is ignored → the full representation, 200;
 * - a reversed range (`bytes=5-2`) or `bytes=-0` is rejected → 416 (as nginx);
 * - on a 0-byte representation `bytes=0-…` and `bytes=-N` give 200 (as nginx),
 *   any other start gives 416;
 * - `Range` is only honoured on GET (RFC 9110 §14.2); HEAD answers 200;
 * - `If-Modified-Since` answers 304 when the representation is not newer
 *   than the date (the RFC rule; nginx `if_modified_since before`).
 *
 * @module
 */

/** An inclusive byte range `[start, end]` of a representation. */
export interface ByteRange {
  /** First byte, zero-based. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

/** What a `Range` header asks for, resolved against a representation size. */
export type RangeParse =
  | { kind: "none" }
  | {
    kind: "ignored";
    reason: "malformed" | "unit" | "multiple" | "empty-representation" | "too-long";
  }
  | { kind: "satisfiable"; range: ByteRange }
  | { kind: "unsatisfiable"; reason: "start-past-end" | "reversed" | "zero-suffix" };

/**
 * Longest `Range` value that is parsed at all. One range of two 16-digit
 * offsets needs 40 characters; anything far longer is a client error or an
 * attack and is ignored as a whole (the gateway does not even forward it).
 */
export const MAX_RANGE_HEADER_LENGTH = 256;

/**
 * Resolve a `Range` header value against a representation of `size` bytes.
 * Runs in time linear in the header's length (one pass, no regular
 * expression), and ignores values longer than
 * {@linkcode MAX_RANGE_HEADER_LENGTH}.
 *
 * @example
 * ```ts
 * parseRange("bytes=-1", 10); // { kind: "satisfiable", range: { start: 9, end: 9 } }
 * ```
 */
export function parseRange(header: string | null | undefined, size: number): RangeParse {
  if (header === null || header === undefined) return { kind: "none" };
  if (header.length > MAX_RANGE_HEADER_LENGTH) return { kind: "ignored", reason: "too-long" };
  const eq = header.indexOf("=");
  if (eq < 0) return { kind: "ignored", reason: "malformed" };
  if (header.slice(0, eq).trim().toLowerCase() !== "bytes") {
    return { kind: "ignored", reason: "unit" };
  }
  const specs = header.slice(eq + 1).split(",");
  const parsed = specs.map(scanRangeSpec);
  if (parsed.some((m) => m === undefined || (m.first === "" && m.last === ""))) {
    return { kind: "ignored", reason: "malformed" };
  }
  if (parsed.some((m) => !isSafeDigits(m!.first) || !isSafeDigits(m!.last))) {
    return { kind: "ignored", reason: "malformed" };
  }
  if (specs.length > 1) return { kind: "ignored", reason: "multiple" };
  const { first, last } = parsed[0]!;
  return resolveSpec(first, last, size);
}

/**
 * Split one `first-last` spec (optional blanks around each part) into its
 * digit strings, scanning each character once; `undefined` when malformed.
 */
function scanRangeSpec(spec: string): { first: string; last: string } | undefined {
  let i = 0;
  const n = spec.length;
  const blanks = () => {
    while (i < n && (spec[i] === " " || spec[i] === "\t")) i++;
  };
  const digits = () => {
    const from = i;
    while (i < n && spec.charCodeAt(i) >= 48 && spec.charCodeAt(i) <= 57) i++;
    return spec.slice(from, i);
  };
  blanks();
  const first = digits();
  blanks();
  if (spec[i] !== "-") return undefined;
  i++;
  blanks();
  const last = digits();
  blanks();
  return i === n ? { first, last } : undefined;
}

function isSafeDigits(digits: string): boolean {
  return digits === "" || Number.isSafeInteger(Number(digits));
}

function resolveSpec(first: string, last: string, size: number): RangeParse {
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0) return { kind: "unsatisfiable", reason: "zero-suffix" };
    if (size === 0) return { kind: "ignored", reason: "empty-representation" };
    return { kind: "satisfiable", range: { start: Math.max(0, size - suffix), end: size - 1 } };
  }
  const start = Number(first);
  if (last !== "" && Number(last) < start) return { kind: "unsatisfiable", reason: "reversed" };
  if (size === 0 && start === 0) return { kind: "ignored", reason: "empty-representation" };
  if (start >= size) return { kind: "unsatisfiable", reason: "start-past-end" };
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  return { kind: "satisfiable", range: { start, end } };
}

/** An entity tag: opaque value without quotes, and whether it is weak. */
export interface EntityTag {
  /** `W/` prefix present. */
  weak: boolean;
  /** The characters between the quotes. */
  opaque: string;
}

const ENTITY_TAG = /^(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"$/;

/** Parse one entity tag (`"abc"` or `W/"abc"`); `undefined` when malformed. */
export function parseEntityTag(value: string): EntityTag | undefined {
  const m = ENTITY_TAG.exec(value.trim());
  return m ? { weak: m[1] !== undefined, opaque: m[2] } : undefined;
}

/** Render an entity tag for a header. */
export function formatEntityTag(tag: EntityTag): string {
  return `${tag.weak ? "W/" : ""}"${tag.opaque}"`;
}

/**
 * Parse an `If-Match` / `If-None-Match` value: `"*"` or the list of
 * well-formed entity tags in it (malformed members are skipped, so a value
 * with none matches nothing).
 */
export function parseEntityTagList(value: string): "*" | EntityTag[] {
  if (value.trim() === "*") return "*";
  const tags: EntityTag[] = [];
  for (const m of value.matchAll(/(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"/g)) {
    tags.push({ weak: m[1] !== undefined, opaque: m[2] });
  }
  return tags;
}

/** Strong comparison: both strong and identical (RFC 9110 §8.8.3.2). */
export function strongMatch(a: EntityTag, b: EntityTag): boolean {
  return !a.weak && !b.weak && a.opaque === b.opaque;
}

/** Weak comparison: identical opaque values, weakness ignored. */
export function weakMatch(a: EntityTag, b: EntityTag): boolean {
  return a.opaque === b.opaque;
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const IMF_FIXDATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850_DATE =
  /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME_DATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/**
 * Parse an HTTP-date (IMF-fixdate, RFC 850 or asctime form) into epoch
 * milliseconds; `undefined` when it is not a valid HTTP-date.
 */
export function parseHttpDate(value: string): number | undefined {
  const v = value.trim();
  let m = IMF_FIXDATE.exec(v);
  if (m) return utc(+m[3], m[2], +m[1], +m[4], +m[5], +m[6]);
  m = RFC850_DATE.exec(v);
  if (m) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century.
    const nowYear = new Date().getUTCFullYear();
    let year = 2000 + Number(m[3]);
    if (year > nowYear + 50) year -= 100;
    return utc(year, m[2], +m[1], +m[4], +m[5], +m[6]);
  }
  m = ASCTIME_DATE.exec(v);
  if (m) return utc(+m[6], m[1], Number(m[2].trim()), +m[3], +m[4], +m[5]);
  return undefined;
}

function utc(y: number, mon: string, d: number, h: number, mi: number, s: number) {
  const month = MONTHS.indexOf(mon.toLowerCase());
  if (month < 0 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  const ms = Date.UTC(y, month, d, h, mi, Math.min(s, 59));
  return new Date(ms).getUTCDate() === d ? ms : undefined;
}

/** Render epoch milliseconds as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`). */
export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** Truncate epoch milliseconds to whole seconds, the resolution of HTTP dates. */
export function toHttpSeconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

/** The validators and size of the representation being served. */
export interface Representation {
  /** Strong entity tag of the bytes. */
  etag: EntityTag;
  /** Last modification time, epoch milliseconds. */
  lastModified: number;
  /** Size in bytes. */
  size: number;
}

/** Read-only view of request headers (a `Headers` object fits). */
export interface HeaderSource {
  /** Value of a header or `null`. */
  get(name: string): string | null;
}

/** The response a conditional/range GET or HEAD gets. */
export type ResponsePlan =
  | { status: 200 }
  | { status: 206; range: ByteRange }
  | { status: 304 }
  | { status: 412; failed: "If-Match" | "If-Unmodified-Since" }
  | { status: 416 };

/**
 * Evaluate preconditions in RFC 9110 §13.2.2 order, then `If-Range` and
 * `Range`, for a GET or HEAD of `rep`.
 *
 * @example
 * ```ts
 * const rep = { etag: { weak: false, opaque: "ab" }, lastModified: 0, size: 10 };
 * planResponse("GET", new Headers({ range: "bytes=0-0" }), rep); // { status: 206, range: {start:0,end:0} }
 * ```
 */
export function planResponse(
  method: "GET" | "HEAD",
  headers: HeaderSource,
  rep: Representation,
): ResponsePlan {
  const lastModified = toHttpSeconds(rep.lastModified);
  const ifMatch = headers.get("if-match");
  if (ifMatch !== null) {
    if (!listMatches(parseEntityTagList(ifMatch), rep.etag, strongMatch)) {
      return { status: 412, failed: "If-Match" };
    }
  } else {
    const date = dateHeader(headers, "if-unmodified-since");
    if (date !== undefined && lastModified > date) {
      return { status: 412, failed: "If-Unmodified-Since" };
    }
  }
  const ifNoneMatch = headers.get("if-none-match");
  if (ifNoneMatch !== null) {
    if (listMatches(parseEntityTagList(ifNoneMatch), rep.etag, weakMatch)) return { status: 304 };
  } else {
    const date = dateHeader(headers, "if-modified-since");
    if (date !== undefined && lastModified <= date) return { status: 304 };
  }
  if (method !== "GET") return { status: 200 };
  const range = headers.get("range");
  if (range === null || !ifRangeHolds(headers.get("if-range"), rep.etag, lastModified)) {
    return { status: 200 };
  }
  const parsed = parseRange(range, rep.size);
  if (parsed.kind === "satisfiable") return { status: 206, range: parsed.range };
  if (parsed.kind === "unsatisfiable") return { status: 416 };
  return { status: 200 };
}

function listMatches(
  list: "*" | EntityTag[],
  etag: EntityTag,
  compare: (a: EntityTag, b: EntityTag) => boolean,
): boolean {
  return list === "*" || list.some((t) => compare(t, etag));
}

function dateHeader(headers: HeaderSource, name: string): number | undefined {
  const value = headers.get(name);
  return value === null ? undefined : parseHttpDate(value);
}

/** `If-Range` absent, or naming the current representation (strong ETag or exact date). */
function ifRangeHolds(value: string | null, etag: EntityTag, lastModified: number): boolean {
  if (value === null) return true;
  const v = value.trim();
  if (v.startsWith('"') || v.startsWith("W/")) {
    const tag = parseEntityTag(v);
    return tag !== undefined && strongMatch(tag, etag);
  }
  return parseHttpDate(v) === lastModified;
}

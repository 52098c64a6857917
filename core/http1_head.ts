/**
 * The heads of the HTTP/1.1 client's exchanges: the request head it writes
 * ({@linkcode requestHead}) and the answer head it reads and checks
 * ({@linkcode readAnswerHead}): status line, field syntax (RFC 9110), the
 * keep-alive rules of HTTP/1.0 and 1.1, interim `1xx` answers skipped.
 *
 * @module
 */

import { type Http1Connection, latin1, MAX_HEAD_BYTES } from "./http1_connection.ts";

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-5]\d\d)(?: |$)/;
/** A field name (RFC 9110 `token`); a line starting with a space (obs-fold) is not one. */
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Bytes a field value never holds (a bare CR or LF would end a line for another parser). */
const FIELD_VALUE_FORBIDDEN = /[\0\r\n]/;

/** Status line and header fields of an answer. */
export interface AnswerHead {
  /** Status code (200–599). */
  status: number;
  /** Header fields in order, names lower-case. */
  headers: [string, string][];
  /** Whether the connection may carry the next request. */
  keepAlive: boolean;
}

/** Status line and header fields (interim `1xx` answers skipped). */
export async function readAnswerHead(
  c: Http1Connection,
  onFirstByte: () => void,
): Promise<AnswerHead> {
  // Bytes after `c.start` searched already (`fill` may move them in the buffer).
  let scanned = 0;
  for (;;) {
    const at = indexOfBlankLine(c.buf, c.start + Math.max(0, scanned - 3), c.end);
    if ((at < 0 ? c.end : at) - c.start > MAX_HEAD_BYTES) throw new Error("answer head too large");
    if (at < 0) {
      scanned = c.end - c.start;
      if (!(await c.fill())) throw new Error("connection closed before an answer");
      onFirstByte();
      continue;
    }
    const lines = latin1.decode(c.buf.subarray(c.start, at)).split("\r\n");
    c.start = at + 4;
    scanned = 0;
    const status = STATUS_LINE.exec(lines[0]);
    if (!status) {
      throw new Error(`not an HTTP/1.x answer: ${JSON.stringify(lines[0].slice(0, 40))}`);
    }
    const code = Number(status[2]);
    // No request asks for an upgrade: after a 101 the bytes are another protocol's.
    if (code === 101) throw new Error("101 Switching Protocols to a request without Upgrade");
    if (code < 200) continue;
    const headers: [string, string][] = [];
    let close = false;
    let keepAliveAsked = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(":");
      const name = line.slice(0, colon);
      const value = trimmedValue(line, colon + 1);
      if (colon <= 0 || !FIELD_NAME.test(name) || FIELD_VALUE_FORBIDDEN.test(value)) {
        throw new Error(`bad header line: ${JSON.stringify(line.slice(0, 40))}`);
      }
      const lower = name.toLowerCase();
      if (lower === "connection") {
        for (const option of value.toLowerCase().split(",")) {
          const token = option.trim();
          if (token === "close") close = true;
          else if (token === "keep-alive") keepAliveAsked = true;
        }
      }
      headers.push([lower, value]);
    }
    // HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 only when asked.
    const keepAlive = !close && (status[1] === "1" || keepAliveAsked);
    return { status: code, headers, keepAlive };
  }
}

/** `line` from `from` on, without leading and trailing spaces and tabs (OWS). */
function trimmedValue(line: string, from: number): string {
  let start = from;
  let end = line.length;
  while (start < end && isOws(line.charCodeAt(start))) start++;
  while (end > start && isOws(line.charCodeAt(end - 1))) end--;
  return line.slice(start, end);
}

/** A space or a horizontal tab. */
function isOws(code: number): boolean {
  return code === 32 || code === 9;
}

/**
 * The request head: request line, `Host`, the caller's header lines, blank
 * line. A target with white space or a field with a line break is refused.
 */
export function requestHead(
  host: string,
  method: string,
  target: string,
  fields?: Iterable<readonly [string, string]>,
): string {
  if (/[\s]/.test(target)) {
    throw new TypeError(`request target ${JSON.stringify(target)} has white space`);
  }
  let text = `${method} ${target} HTTP/1.1\r\nhost: ${host}\r\n`;
  if (fields) {
    for (const [name, value] of fields) {
      if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
        throw new TypeError(`header ${JSON.stringify(name)} has a line break`);
      }
      text += `${name}: ${value}\r\n`;
    }
  }
  return text + "\r\n";
}

/** Index of the `\r\n\r\n` ending a head in `buf[from, to)`, or -1. */
function indexOfBlankLine(buf: Uint8Array, from: number, to: number): number {
  for (let i = buf.indexOf(13, from); i >= 0 && i + 3 < to; i = buf.indexOf(13, i + 1)) {
    if (buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

/**
 * W3C Trace Context (`traceparent`) parsing and generation. The gateway
 * continues the caller's trace or starts one, sends a child `traceparent`
 * to the retriever, and both write the trace id into their log lines.
 *
 * @module
 */

/** One position in a trace: the trace, this hop's span, and the sampling flags. */
export interface TraceContext {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** 16 lowercase hex digits identifying the span, not all zero. */
  spanId: string;
  /** Trace flags byte as 2 hex digits (`01` = sampled). */
  flags: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * Parse a `traceparent` header. Returns `undefined` for anything the spec
 * says to ignore: wrong shape, uppercase hex, version `ff`, all-zero ids,
 * or extra fields on version `00`.
 *
 * @example
 * ```ts
 * parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")?.traceId;
 * ```
 */
export function parseTraceparent(value: string | null | undefined): TraceContext | undefined {
  if (!value) return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === "ff") return undefined;
  if (version === "00" && rest !== undefined) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, flags };
}

/** Render a context as a version-00 `traceparent` value. */
export function formatTraceparent(ctx: TraceContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.flags}`;
}

/**
 * A new span: a child of `parent` (same trace and flags, fresh span id),
 * or the root of a new sampled trace when there is no parent.
 */
export function childTrace(parent?: TraceContext): TraceContext {
  return {
    traceId: parent?.traceId ?? randomHex(16),
    spanId: randomHex(8),
    flags: parent?.flags ?? "01",
  };
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Random bytes drawn 4 KiB at a time: one `getRandomValues` call serves
 * about 170 requests' ids instead of two calls per request.
 */
const RANDOM = new Uint8Array(4096);
let randomAt = RANDOM.length;

function randomHex(bytes: number): string {
  for (;;) {
    if (randomAt + bytes > RANDOM.length) {
      crypto.getRandomValues(RANDOM);
      randomAt = 0;
    }
    let out = "";
    let nonZero = false;
    for (let i = randomAt; i < randomAt + bytes; i++) {
      out += HEX[RANDOM[i]];
      nonZero ||= RANDOM[i] !== 0;
    }
    randomAt += bytes;
    if (nonZero) return out;
  }
}

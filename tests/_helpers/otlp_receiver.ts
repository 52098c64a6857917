/**
 * A small OTLP/HTTP receiver for JSON trace exports (what Deno sends with
 * `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`), keeping every span it gets.
 *
 * @module
 */

/** A span as the receiver keeps it. */
export interface ReceivedSpan {
  /** `service.name` of the exporting process. */
  service: string;
  /** Trace id, hex. */
  traceId: string;
  /** Span id, hex. */
  spanId: string;
  /** Parent span id, hex, or "" for a root. */
  parentSpanId: string;
  /** Span name. */
  name: string;
  /** OTLP span kind: 1 internal, 2 server, 3 client. */
  kind: number;
  /** Attributes, values unwrapped. */
  attributes: Record<string, unknown>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}

function valueOf(v: OtlpValue): unknown {
  return v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ??
    v.boolValue ?? v.doubleValue;
}

/** A running receiver. */
export interface OtlpReceiver {
  /** Base URL for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  url: string;
  /** Every span received so far. */
  spans: ReceivedSpan[];
  /** The environment that makes a Deno process export here. */
  env(service: string): Record<string, string>;
  /** Stop listening. */
  close(): Promise<void>;
}

/** Start a receiver on a free loopback port. */
export function otlpReceiver(): OtlpReceiver {
  const spans: ReceivedSpan[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    if (req.method !== "POST" || url.pathname !== "/v1/traces") {
      await req.body?.cancel();
      return new Response("{}", { headers: { "content-type": "application/json" } });
    }
    const body = await req.json();
    for (const rs of body.resourceSpans ?? []) {
      const service = String(
        valueOf(
          (rs.resource?.attributes ?? []).find((a: { key: string }) => a.key === "service.name")
            ?.value ?? {},
        ),
      );
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          spans.push({
            service,
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId ?? "",
            name: s.name,
            kind: s.kind,
            attributes: Object.fromEntries(
              (s.attributes ?? []).map((a: { key: string; value: OtlpValue }) => [
                a.key,
                valueOf(a.value),
              ]),
            ),
          });
        }
      }
    }
    return new Response("{}", { headers: { "content-type": "application/json" } });
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  return {
    url,
    spans,
    env: (service) => ({
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_ENDPOINT: url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_SERVICE_NAME: service,
    }),
    close: () => server.shutdown(),
  };
}

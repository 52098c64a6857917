/**
 * Prometheus metrics of the gateway.
 *
 * @module
 */

import {
  type Counter,
  type CounterSeries,
  type Gauge,
  type Histogram,
  type HistogramSeries,
  Registry,
} from "../core/metrics.ts";

/** The series of one route, resolved once (see {@linkcode GatewayMetrics.route}). */
export interface RouteSeries {
  /** `des_gateway_requests_total` of this route and `status`. */
  requests(status: number): CounterSeries;
  /** Seconds to response headers. */
  latency: HistogramSeries;
  /** Seconds to the end of the body. */
  duration: HistogramSeries;
  /** Body bytes sent. */
  bytes: CounterSeries;
}

/** The gateway's metric set. */
export class GatewayMetrics {
  /** The registry served at `/metrics`. */
  readonly registry: Registry;
  /** Requests by route (operation id) and status. */
  readonly requests: Counter;
  /** Seconds to response headers, by route. */
  readonly latency: Histogram;
  /** Seconds until the last body byte was handed on, by route. */
  readonly duration: Histogram;
  /** Body bytes sent, by route. */
  readonly bytes: Counter;
  /** Forwarding failures by retriever (not answering, wrong retriever). */
  readonly upstreamErrors: Counter;
  /** Audit rows written. */
  readonly auditWritten: Counter;
  /** Audit rows dropped (buffer full or DB down too long). */
  readonly auditDropped: Counter;
  /** Audit rows waiting to be written. */
  readonly auditPending: Gauge;
  /** Audit rows the database refused, kept in `des_read_audit_rejected`. */
  readonly auditRejected: Counter;
  /** Reads refused because the audit could not record them (`DES_GATEWAY_AUDIT_REQUIRED`). */
  readonly auditRefused: Counter;

  readonly #routes = new Map<string, RouteSeries>();

  /** @param registry registry to add to (default: a new one) */
  constructor(registry = new Registry()) {
    this.registry = registry;
    this.requests = registry.counter("des_gateway_requests_total", "Requests by route and status");
    this.latency = registry.histogram(
      "des_gateway_request_seconds",
      "Seconds from request to response headers, by route",
    );
    this.duration = registry.histogram(
      "des_gateway_response_seconds",
      "Seconds from request to the end of the response body, by route",
    );
    this.bytes = registry.counter("des_gateway_response_bytes_total", "Body bytes sent, by route");
    this.upstreamErrors = registry.counter(
      "des_gateway_upstream_errors_total",
      "Requests a retriever did not answer, by retriever",
    );
    this.auditWritten = registry.counter("des_gateway_audit_rows_total", "Audit rows written");
    this.auditDropped = registry.counter(
      "des_gateway_audit_dropped_total",
      "Audit rows dropped because the buffer was full",
    );
    this.auditPending = registry.gauge("des_gateway_audit_pending", "Audit rows not yet written");
    this.auditRejected = registry.counter(
      "des_gateway_audit_rejected_total",
      "Audit rows the database refused (kept in des_read_audit_rejected)",
    );
    this.auditRefused = registry.counter(
      "des_gateway_audit_refused_total",
      "Reads refused with 503 because the audit could not record them",
    );
  }

  /** The request series of `route` (an operation id), resolved once. */
  route(route: string): RouteSeries {
    let series = this.#routes.get(route);
    if (!series) {
      const byStatus = new Map<number, CounterSeries>();
      series = {
        requests: (status) => {
          let s = byStatus.get(status);
          if (!s) byStatus.set(status, s = this.requests.series({ route, status }));
          return s;
        },
        latency: this.latency.series({ route }),
        duration: this.duration.series({ route }),
        bytes: this.bytes.series({ route }),
      };
      this.#routes.set(route, series);
    }
    return series;
  }
}

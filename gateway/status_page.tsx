/**
 * `GET /status`: the operator's status page, server-rendered HTML (Hono JSX,
 * no build step, no scripts, no external assets) that reloads itself. It
 * shows the routing table with each retriever's readiness, what
 * {@linkcode StatusReport} holds (containers per shard, backlog per source
 * and its trend, leases, dead-lettered rows, recent errors, what needs
 * attention) and the cache hit ratios of an in-process retriever.
 *
 * It names hosts, packers and parent row ids, so with API keys it needs a
 * key with the `admin` scope (401/403 otherwise), and on a gateway without
 * keys only loopback clients may read it (403 for everyone else). Its own
 * Content-Security-Policy keeps the gateway's sandbox and `default-src
 * 'none'` and allows exactly its one inline stylesheet, by hash.
 *
 * @module
 */

import { Hono } from "hono";
import { createHash } from "node:crypto";
import type { FC } from "hono/jsx";
import { DesError } from "../core/errors.ts";
import { problemResponse } from "../core/problem.ts";
import type { StatusReport } from "../status/status_report.ts";
import type { ApiKey } from "./auth.ts";
import { requireScope } from "./auth_middleware.ts";
import { CONTENT_SECURITY_POLICY } from "./edge_headers.ts";
import type { GatewayEnv } from "./gateway_env.ts";
import type { RoutingTable } from "./routing_table.ts";
import type { RetrieverTarget } from "./target.ts";

/** The client may not read the status page (403). */
export class StatusPageForbiddenError extends DesError {
  /** @param address the client's address */
  constructor(address: string) {
    super(`the status page is served to loopback clients only, not ${address}`, {
      code: "status.forbidden",
      status: 403,
      context: { address },
    });
    this.name = "StatusPageForbiddenError";
  }
}

/** Options of {@linkcode statusPageApp}. */
export interface StatusPageOptions {
  /** Read the archive's status now. */
  collect: () => Promise<StatusReport>;
  /** API keys (`DES_GATEWAY_API_KEYS`): when any, the page needs the `admin` scope. */
  apiKeys?: readonly ApiKey[];
  /** The gateway's current routing table. */
  routing: () => RoutingTable<RetrieverTarget>;
  /** The process's metrics text, for cache hit ratios (in-process retrievers). */
  metricsText?: () => string;
  /** Seconds between reloads (default 10). */
  refreshSeconds?: number;
}

/** Hit ratios read from metrics text. */
export interface CacheRatios {
  /** Container index lookups answered from memory, from Deno KV, by S3, as shares. */
  index?: { memory: number; kv: number; s3: number; lookups: number };
  /** File bytes answered from the byte cache, as a share of lookups. */
  bytes?: { hitRatio: number; lookups: number };
}

function sumOf(text: string, name: string, label?: string): number {
  let total = 0;
  const re = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, "gm");
  for (const m of text.matchAll(re)) {
    if (label && !(m[1] ?? "").includes(label)) continue;
    total += Number(m[2]);
  }
  return total;
}

/** Cache hit ratios from a Prometheus text exposition (absent when nothing was looked up). */
export function cacheRatios(text: string): CacheRatios {
  const out: CacheRatios = {};
  const lookups = sumOf(text, "des_retriever_index_lookups_total");
  if (lookups > 0) {
    const share = (tier: string) =>
      sumOf(text, "des_retriever_index_lookups_total", `tier="${tier}"`) / lookups;
    out.index = { memory: share("memory"), kv: share("kv"), s3: share("s3"), lookups };
  }
  const byteLookups = sumOf(text, "des_retriever_byte_cache_lookups_total");
  if (byteLookups > 0) {
    out.bytes = {
      hitRatio: sumOf(text, "des_retriever_byte_cache_hits_total") / byteLookups,
      lookups: byteLookups,
    };
  }
  return out;
}

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222;background:#fafafa}
h1{font-size:1.3rem;margin:0 0 .2rem}h2{font-size:1.05rem;margin:1.4rem 0 .4rem}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ddd;padding:.25rem .6rem;text-align:left}
th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#17702a}.bad{color:#b00020;font-weight:600}.muted{color:#777}
ul.attention li{color:#b00020}`;

const iso = (d: Date | null) => d ? d.toISOString().replace(/\.\d{3}Z$/, "Z") : "—";
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

interface PageProps {
  report: StatusReport;
  routes: { id: string; start: number; end: number; location: string; ready: string }[];
  caches: CacheRatios;
  refresh: number;
}

const Page: FC<PageProps> = ({ report: r, routes, caches, refresh }) => {
  const totals = r.shards.reduce(
    (t, s) => ({ c: t.c + s.containers, f: t.f + s.files, b: t.b + s.bytes }),
    { c: 0, f: 0, b: 0 },
  );
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta http-equiv="refresh" content={String(refresh)} />
        <title>DES status</title>
        <style>{CSS}</style>
      </head>
      <body>
        <h1>DES status</h1>
        <p class="muted">
          at <time id="at">{iso(r.at)}</time> · {r.database} · {r.shardCount} shards · reloads every
          {" "}
          {refresh} s
        </p>

        <h2>Needs attention</h2>
        {r.attention.length === 0
          ? <p id="attention" class="ok">Nothing needs attention.</p>
          : (
            <ul id="attention" class="attention">
              {r.attention.map((a, i) => <li key={i} data-kind={a.kind}>{a.message}</li>)}
            </ul>
          )}

        <h2>Routing table</h2>
        <table id="routes">
          <tr>
            <th>retriever</th>
            <th>shards</th>
            <th>where</th>
            <th>ready</th>
          </tr>
          {routes.map((x, i) => (
            <tr key={i}>
              <td>{x.id}</td>
              <td>{x.start}–{x.end}</td>
              <td>{x.location}</td>
              <td class={x.ready === "ok" ? "ok" : "bad"}>{x.ready}</td>
            </tr>
          ))}
        </table>
        {r.retrievers.length > 0 && (
          <>
            <h2>Registered retrievers</h2>
            <table id="retrievers">
              <tr>
                <th>retriever</th>
                <th>shards</th>
                <th>url</th>
                <th>heartbeat</th>
              </tr>
              {r.retrievers.map((x, i) => (
                <tr key={i}>
                  <td>{x.id}</td>
                  <td>{x.rangeStart}–{x.rangeEnd}</td>
                  <td>{x.url}</td>
                  <td class={x.alive ? "ok" : "bad"}>
                    {Math.round(x.heartbeatAgeSeconds)} s ago{x.alive ? "" : " (dead)"}
                  </td>
                </tr>
              ))}
            </table>
          </>
        )}

        <h2>Backlog per source</h2>
        <table id="sources">
          <tr>
            <th>source</th>
            <th>marked (backlog)</th>
            <th>trend</th>
            <th>eligible</th>
            <th>packed</th>
            <th>dead-lettered</th>
          </tr>
          {r.sources.map((s, i) => (
            <tr key={i} data-source={s.source}>
              <td>{s.source}</td>
              <td class="n" data-field="marked">{s.marked}</td>
              <td>
                {s.markedBefore === null
                  ? <span class="muted">no earlier sample yet</span>
                  : `${s.marked - s.markedBefore >= 0 ? "+" : ""}${
                    s.marked - s.markedBefore
                  } since ${iso(s.markedBeforeAt)}`}
              </td>
              <td class="n" data-field="eligible">{s.eligible}</td>
              <td class="n" data-field="packed">{s.packed}</td>
              <td class={s.failed > 0 ? "n bad" : "n"} data-field="failed">{s.failed}</td>
            </tr>
          ))}
        </table>

        <h2>Containers per shard</h2>
        <p id="container-totals">
          {totals.c} containers, {totals.f} files, {totals.b} bytes in {r.shards.length} shards
        </p>
        <table id="shards">
          <tr>
            <th>shard</th>
            <th>containers</th>
            <th>files</th>
            <th>bytes</th>
          </tr>
          {r.shards.map((s, i) => (
            <tr key={i} data-shard={String(s.shard)}>
              <td class="n">{s.shard}</td>
              <td class="n" data-field="containers">{s.containers}</td>
              <td class="n" data-field="files">{s.files}</td>
              <td class="n" data-field="bytes">{s.bytes}</td>
            </tr>
          ))}
        </table>

        <h2>Shard leases</h2>
        {r.leases.length === 0
          ? <p id="leases" class="muted">No lease is held.</p>
          : (
            <table id="leases">
              <tr>
                <th>shard</th>
                <th>packer</th>
                <th>since</th>
                <th>expires</th>
                <th>marked rows left</th>
              </tr>
              {r.leases.map((l, i) => (
                <tr key={i} data-shard={String(l.shard)}>
                  <td class="n">{l.shard}</td>
                  <td>{l.owner}</td>
                  <td>{iso(l.since)}</td>
                  <td class={l.expired ? "bad" : ""}>
                    {iso(l.expiresAt)}
                    {l.expired ? " (expired)" : ""}
                  </td>
                  <td class="n">{l.workLeft}</td>
                </tr>
              ))}
            </table>
          )}

        <h2>Dead-lettered rows</h2>
        {r.deadLetters.length === 0
          ? <p id="dead-letters" class="muted">None.</p>
          : (
            <table id="dead-letters">
              <tr>
                <th>source</th>
                <th>row</th>
                <th>location</th>
                <th>reason</th>
              </tr>
              {r.deadLetters.map((d, i) => (
                <tr key={i}>
                  <td>{d.source}</td>
                  <td>{d.id}</td>
                  <td>{d.location}</td>
                  <td>{d.reason ?? "—"}</td>
                </tr>
              ))}
            </table>
          )}

        <h2>Errors (last 24 h)</h2>
        {r.recentErrors.length === 0 ? <p id="errors" class="muted">None.</p> : (
          <table id="errors">
            <tr>
              <th>at</th>
              <th>what</th>
              <th>shard</th>
              <th>error</th>
            </tr>
            {r.recentErrors.map((e, i) => (
              <tr key={i}>
                <td>{iso(e.at)}</td>
                <td>{e.kind}</td>
                <td class="n">{e.shard}</td>
                <td>{e.error}</td>
              </tr>
            ))}
          </table>
        )}

        <h2>Caches</h2>
        <p id="caches">
          {caches.index
            ? `Container indexes: ${pct(caches.index.memory)} from memory, ${
              pct(caches.index.kv)
            } from Deno KV, ${pct(caches.index.s3)} from S3 (${caches.index.lookups} lookups). `
            : "No index lookups in this process yet. "}
          {caches.bytes
            ? `File bytes: ${
              pct(caches.bytes.hitRatio)
            } from the byte cache (${caches.bytes.lookups} lookups).`
            : ""}
        </p>
        <p class="muted">
          Scrubbing: no scrubber runs in this version. Retrievers in other processes report their
          caches at their own /metrics.
        </p>
      </body>
    </html>
  );
};

function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.") || address === "::ffff:127.0.0.1";
}

/** The page's policy: the gateway's sandbox plus its one stylesheet. */
export const STATUS_PAGE_CSP = `${CONTENT_SECURITY_POLICY}; style-src 'sha256-${
  createHash("sha256").update(CSS).digest("base64")
}'`;

/** A Hono app serving `GET /status`; mount it with `app.route("/", statusPageApp(…))`. */
export function statusPageApp(options: StatusPageOptions): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  const refresh = options.refreshSeconds ?? 10;
  const keys = options.apiKeys ?? [];
  if (keys.length > 0) app.use("/status", requireScope(keys, "admin"));
  app.onError((error) => problemResponse(error, "/status"));
  app.get("/status", async (c) => {
    const info = c.env as Partial<Deno.ServeHandlerInfo<Deno.NetAddr>> | undefined;
    const address = info?.remoteAddr?.hostname ?? "unknown";
    if (keys.length === 0 && !isLoopback(address)) {
      return problemResponse(new StatusPageForbiddenError(address), "/status");
    }
    const table = options.routing();
    const [report, ready] = await Promise.all([
      options.collect(),
      Promise.all(table.owners.map((t) => t.ready().catch((e) => String(e)))),
    ]);
    const routes = table.owners.map((t, i) => ({
      id: t.id,
      start: t.range.start,
      end: t.range.end,
      location: t.location,
      ready: ready[i],
    }));
    const caches = cacheRatios(options.metricsText?.() ?? "");
    const html = "<!doctype html>" +
      String(<Page report={report} routes={routes} caches={caches} refresh={refresh} />);
    return c.html(html, 200, {
      "cache-control": "no-store",
      "content-security-policy": STATUS_PAGE_CSP,
    });
  });
  return app;
}

/**
 * CPU µs per request by stage, from a V8 `.cpuprofile` (`deno run
 * --cpu-prof`). Each sample is charged to the deepest frame on its stack
 * whose script or function matches a stage rule (so a hash inside the
 * reader is `checksum`, a `JSON.stringify` inside the logger is `logging`);
 * samples matching no rule are `runtime` (HTTP server and client, streams,
 * promises); `gc` is the garbage collector. In the all-in-one process the
 * embedded database (PGlite) only runs the audit insert on the read path, so
 * it is counted as `audit`; the PostgreSQL client is `db client`. Only the
 * samples of the measured run count (its window on the profile's clock, see
 * {@linkcode profileClockMicros}), not start-up, warm-up or other runs.
 *
 * Run alone: `deno run -A bench/profile_stages.ts FILE.cpuprofile REQUESTS FROM_US TO_US`.
 *
 * @module
 */

/** Stages in report order. */
export const STAGES = [
  "parse",
  "route",
  "catalog",
  "index lookup",
  "byte cache",
  "I/O",
  "checksum",
  "headers",
  "logging",
  "metrics",
  "audit",
  "db client",
  "runtime",
  "gc",
] as const;

/** One stage name. */
export type Stage = typeof STAGES[number];

/** First match wins, tested against `url function` of a frame, deepest frame first. */
const RULES: [Stage, RegExp][] = [
  ["logging", /core\/log\.ts|gateway\/access_log/],
  ["metrics", /core\/metrics\.ts|\/metrics\.ts/],
  ["audit", /gateway\/audit|audit_gate|db\/read_audit|pglite/],
  ["db client", /node_modules\/.*postgres|db\/postgres_db|db\/db\.ts/],
  ["checksum", /format\/checksum\.ts|hash-wasm|node:crypto|ext:deno_node\/internal\/crypto/],
  ["byte cache", /retriever\/(byte_cache|disk_cache|admission)\.ts/],
  ["I/O", /store\/|pinned_source|s3_fetch_store|sigv4|ext:deno_fs|ext:deno_io|ext:deno_net/],
  ["index lookup", /format\/|container_readers|tail_cache|retriever\/lru\.ts/],
  ["catalog", /retriever\/catalog/],
  ["headers", /http_range|file_response|problem\.ts|ext:deno_fetch\/20_headers|headers/i],
  [
    "route",
    /routing_table|gateway\/routes|in_process_target|http_target|hono\/dist\/router|router/,
  ],
  ["parse", /naming\/|parseFilesPath|files_path|ext:deno_url|URL|parseTraceparent|core\/trace/],
];

/** A stage breakdown. */
export interface StageBreakdown {
  /** CPU µs per request by stage. */
  perRequest: Record<Stage, number>;
  /** Total CPU µs per request in the window. */
  total: number;
  /** Seconds of profile counted. */
  windowSeconds: number;
}

/** A time span on the profile's clock, µs. */
export interface ProfileWindow {
  /** Start. */
  from: number;
  /** End. */
  to: number;
}

/**
 * Now on the clock of V8's profiles (CLOCK_MONOTONIC, µs), read from
 * `/proc/uptime` (10 ms resolution, which is plenty for a run of seconds).
 */
export function profileClockMicros(): number {
  return Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]) * 1e6;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * Break a profile down by stage, per request: sampled time / requests, or,
 * given the process's measured CPU µs per request, that split by the
 * stages' shares of the samples.
 */
export function stagesOf(
  profile: CpuProfile,
  requests: number,
  window: ProfileWindow,
  cpuMicrosPerRequest?: number,
): StageBreakdown {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOf = new Map<number, Stage | "idle">();
  const classify = (id: number): Stage | "idle" => {
    const known = stageOf.get(id);
    if (known) return known;
    const leaf = byId.get(id)!.callFrame.functionName;
    let stage: Stage | "idle" = leaf === "(idle)"
      ? "idle"
      : leaf === "(garbage collector)"
      ? "gc"
      : "runtime";
    if (stage === "runtime") {
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const f = byId.get(at)!.callFrame;
        const text = `${f.url} ${f.functionName}`;
        const rule = RULES.find(([, re]) => re.test(text));
        if (rule) {
          stage = rule[0];
          break;
        }
      }
    }
    stageOf.set(id, stage);
    return stage;
  };
  // Sample times on the profile's clock (CLOCK_MONOTONIC µs, as `/proc/uptime` here).
  let t = profile.startTime;
  const times = profile.timeDeltas.map((d) => t += d);
  const us = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  for (let i = 0; i < profile.samples.length; i++) {
    if (times[i] < window.from || times[i] > window.to) continue;
    const stage = classify(profile.samples[i]);
    if (stage !== "idle") us[stage] += profile.timeDeltas[i];
  }
  // On a busy machine a sample also covers time the thread waited for a core: when the
  // process's CPU time per request is known, the profile only gives each stage's share of it.
  const sampled = STAGES.reduce((a, stage) => a + us[stage], 0);
  const scale = cpuMicrosPerRequest !== undefined && sampled > 0
    ? cpuMicrosPerRequest / sampled
    : 1 / Math.max(1, requests);
  const perRequest = Object.fromEntries(
    STAGES.map((stage) => [stage, us[stage] * scale]),
  ) as Record<Stage, number>;
  const total = STAGES.reduce((a, s) => a + perRequest[s], 0);
  return { perRequest, total, windowSeconds: (window.to - window.from) / 1e6 };
}

/** Read a `.cpuprofile` file and break it down. */
export async function stagesOfFile(
  path: string,
  requests: number,
  window: ProfileWindow,
  cpuMicrosPerRequest?: number,
): Promise<StageBreakdown> {
  return stagesOf(
    JSON.parse(await Deno.readTextFile(path)),
    requests,
    window,
    cpuMicrosPerRequest,
  );
}

/** A markdown table of breakdowns (one column each). */
export function stageTable(columns: { label: string; stages: StageBreakdown }[]): string[] {
  const head = `| stage | ${columns.map((c) => c.label).join(" | ")} |`;
  const rule = `| --- | ${columns.map(() => "---:").join(" | ")} |`;
  const rows = STAGES.map((s) =>
    `| ${s} | ${columns.map((c) => c.stages.perRequest[s].toFixed(1)).join(" | ")} |`
  );
  const total = `| **total** | ${
    columns.map((c) => `**${c.stages.total.toFixed(1)}**`).join(" | ")
  } |`;
  return [head, rule, ...rows, total];
}

if (import.meta.main) {
  const [file, requests, from, to] = Deno.args;
  const b = await stagesOfFile(file, Number(requests), { from: Number(from), to: Number(to) });
  console.log(stageTable([{ label: "µs/request", stages: b }]).join("\n"));
}

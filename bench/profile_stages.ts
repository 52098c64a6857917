/**
 * CPU µs per request by stage, from a V8 `.cpuprofile` (`deno run
 * --cpu-prof`). Each sample is charged to the deepest frame on its stack
 * whose script or function matches a stage rule (so a hash inside the
 * reader is `checksum`, a `JSON.stringify` inside the logger is `logging`);
 * samples matching no rule are `runtime` (HTTP server and client, streams,
 * promises); `gc` is the garbage collector. In the all-in-one process the
 * embedded database (PGlite) only runs the audit insert on the read path, so
 * it is counted as `audit`; the PostgreSQL client is `db client`. Only the last `windowSeconds` of busy samples are counted, to leave
 * start-up and warm-up out.
 *
 * Run alone: `deno run -A bench/profile_stages.ts FILE.cpuprofile REQUESTS [SECONDS]`.
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

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Break a profile down by stage, per request. */
export function stagesOf(
  profile: CpuProfile,
  requests: number,
  windowSeconds: number,
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
  // Timestamps of samples; the window is the last `windowSeconds` before the last busy sample.
  const times: number[] = [];
  let t = 0;
  for (const d of profile.timeDeltas) times.push(t += d);
  let lastBusy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    if (classify(profile.samples[i]) !== "idle") lastBusy = times[i];
  }
  const from = lastBusy - windowSeconds * 1e6;
  const us = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  for (let i = 1; i < profile.samples.length; i++) {
    if (times[i] < from || times[i] > lastBusy) continue;
    const stage = classify(profile.samples[i]);
    if (stage !== "idle") us[stage] += profile.timeDeltas[i];
  }
  const perRequest = Object.fromEntries(
    STAGES.map((s) => [s, us[s] / Math.max(1, requests)]),
  ) as Record<Stage, number>;
  const total = STAGES.reduce((a, s) => a + perRequest[s], 0);
  return { perRequest, total, windowSeconds };
}

/** Read a `.cpuprofile` file and break it down. */
export async function stagesOfFile(
  path: string,
  requests: number,
  windowSeconds: number,
): Promise<StageBreakdown> {
  return stagesOf(JSON.parse(await Deno.readTextFile(path)), requests, windowSeconds);
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
  const [file, requests, seconds] = Deno.args;
  const b = await stagesOfFile(file, Number(requests), Number(seconds ?? 10));
  console.log(stageTable([{ label: "µs/request", stages: b }]).join("\n"));
}

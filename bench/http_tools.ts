/**
 * The HTTP load tools of the benchmarks: `wrk` as the load generator and
 * `nginx` as the static-file baseline, both from Debian packages (installed
 * with apt-get when missing and the bench runs as root), plus helpers to
 * start a child process on a free port and to read a process's CPU time.
 *
 * @module
 */

/** One wrk run. */
export interface WrkResult {
  /** Requests completed. */
  requests: number;
  /** Requests per second. */
  rps: number;
  /** Median latency, ms. */
  p50: number;
  /** 99th percentile latency, ms. */
  p99: number;
  /** Non-2xx/3xx responses plus socket errors. */
  errors: number;
}

/** Make sure `wrk` and `nginx` are on PATH, installing the Debian packages when they are not. */
export async function ensureHttpTools(say: (line: string) => void): Promise<void> {
  const missing = [];
  if (!(await onPath("wrk"))) missing.push("wrk");
  if (!(await onPath("nginx"))) missing.push("nginx-light");
  if (missing.length === 0) return;
  say(`installing ${missing.join(", ")} with apt-get`);
  const apt = (args: string[]) =>
    new Deno.Command("apt-get", {
      args: ["-o", "DPkg::Lock::Timeout=600", ...args],
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "null",
      stderr: "inherit",
    }).output();
  let out = await apt(["install", "-y", "--no-install-recommends", ...missing]);
  if (!out.success) {
    await apt(["update"]);
    out = await apt(["install", "-y", "--no-install-recommends", ...missing]);
  }
  if (!out.success) throw new Error(`apt-get install ${missing.join(" ")} failed`);
}

async function onPath(tool: string): Promise<boolean> {
  try {
    const out = await new Deno.Command("sh", {
      args: ["-c", `command -v ${tool}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * Run wrk against `base` + one of `paths` per request (rotating, each thread
 * from its own offset) with `connections` connections for `seconds`.
 */
export async function runWrk(
  base: string,
  paths: string[],
  options: { connections: number; seconds: number; threads?: number; dir: string },
): Promise<WrkResult> {
  const list = `${options.dir}/wrk-paths-${crypto.randomUUID().slice(0, 8)}.txt`;
  const script = `${list}.lua`;
  await Deno.writeTextFile(list, paths.join("\n") + "\n");
  await Deno.writeTextFile(
    script,
    `local paths = {}
for line in io.lines(${JSON.stringify(list)}) do paths[#paths + 1] = line end
local i = math.random(#paths)
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
`,
  );
  const out = await new Deno.Command("wrk", {
    args: [
      `-t${options.threads ?? 2}`,
      `-c${options.connections}`,
      `-d${options.seconds}s`,
      "--latency",
      "-s",
      script,
      base,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`wrk failed: ${text}${new TextDecoder().decode(out.stderr)}`);
  }
  return parseWrk(text);
}

/** The figures of wrk's `--latency` report. */
export function parseWrk(text: string): WrkResult {
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  const latency = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, "m").exec(text);
    if (!m) return NaN;
    return Number(m[1]) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[m[2]];
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requests: num(/(\d+) requests in/),
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50: latency("50"),
    p99: latency("99"),
    errors: socketErrors + (non2xx ? Number(non2xx[1]) : 0),
  };
}

/** Start nginx serving `root` on a free port; returns the port and a stop function. */
export async function startNginx(
  root: string,
  dir: string,
): Promise<{ port: number; stop: () => Promise<void> }> {
  const port = freePort();
  const conf = `${dir}/nginx.conf`;
  // The stock Debian settings that matter for small static files: one worker per core,
  // sendfile, keep-alive, an access log.
  await Deno.writeTextFile(
    conf,
    `daemon off;
worker_processes auto;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log ${dir}/nginx-access.log;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`,
  );
  const child = new Deno.Command("nginx", {
    args: ["-c", conf, "-p", dir],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  await waitForHttp(`http://127.0.0.1:${port}/`, child);
  return {
    port,
    stop: async () => {
      try {
        child.kill("SIGQUIT");
      } catch { /* gone */ }
      await child.status;
    },
  };
}

/** A TCP port that was free a moment ago. */
export function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  return port;
}

/** Wait (at most a minute) until `url` answers anything; fail if `child` exits first. */
export async function waitForHttp(url: string, child: Deno.ChildProcess): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      return;
    } catch { /* not up yet */ }
    if (exited) throw new Error(`the process for ${url} exited before answering`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${url} did not answer within 60 s`);
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

const CLOCK_TICKS = 100;

/** User + system CPU milliseconds of a process and its threads so far (from /proc). */
export function cpuMillisOf(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS) * 1000;
  } catch {
    return NaN;
  }
}

/** CPU milliseconds of a process plus all its children (nginx master + workers). */
export function cpuMillisOfTree(pid: number): number {
  let total = cpuMillisOf(pid);
  try {
    const children = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
    for (const c of children ? children.split(/\s+/) : []) total += cpuMillisOfTree(Number(c));
  } catch { /* no children file */ }
  return total;
}

/** A Deno script running as a child process on a free port (see {@linkcode startDenoService}). */
export interface DenoService {
  /** Its port on 127.0.0.1. */
  port: number;
  /** Its process id (for CPU accounting). */
  pid: number;
  /** The child process. */
  child: Deno.ChildProcess;
  /** SIGTERM and wait for the exit (a second call does nothing). */
  stop(): Promise<void>;
}

/** Options of {@linkcode startDenoService}. */
export interface DenoServiceOptions {
  /** Environment added to this process's. */
  env?: Record<string, string>;
  /** Working directory. */
  cwd?: string;
  /** Write a CPU profile into this directory (`--cpu-prof`). */
  profileDir?: string;
  /** Where its stderr goes (default: discarded). */
  stderr?: "inherit" | "null";
}

/**
 * Run `deno run -A --unstable-kv [--cpu-prof] script ...args --port N` on
 * a free port and wait until its `/healthz` answers.
 */
export async function startDenoService(
  script: string,
  args: string[],
  options: DenoServiceOptions = {},
): Promise<DenoService> {
  const port = freePort();
  const prof = options.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`] : [];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", ...prof, script, ...args, "--port", String(port)],
    env: options.env,
    cwd: options.cwd,
    stdin: "null",
    stdout: "null",
    stderr: options.stderr ?? "null",
  }).spawn();
  await waitForHttp(`http://127.0.0.1:${port}/healthz`, child);
  let stopped = false;
  return {
    port,
    pid: child.pid,
    child,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
    },
  };
}

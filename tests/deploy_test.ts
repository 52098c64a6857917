/**
 * The deployment files under deploy/ against the code: every YAML and JSON
 * file parses; every metric the Grafana dashboard, the alert rules and the
 * operator docs name is registered by the code; every entry point and flag
 * the systemd units and Kubernetes manifests run exists; every DES_*
 * variable they set is read by the code, and the env template lists every
 * setting; the Kubernetes routing table covers every shard and matches the
 * retriever StatefulSets; the sources file they mount is valid.
 */

import { parse as parseYaml, parseAllDocuments } from "yaml";
import { SETTINGS } from "../core/config.ts";
import { COMMANDS } from "../cli/des.ts";
import { parseRoutesYaml } from "../gateway/routes_config.ts";
import { RoutingTable } from "../gateway/routing_table.ts";
import { loadSources } from "../parent/sources.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const DEPLOY = `${ROOT}/deploy`;
/** Variables the retriever unit reads from its per-instance env file, not DES settings. */
const UNIT_VARIABLES = ["DES_RETRIEVER_HOST", "DES_RETRIEVER_PORT", "DES_RETRIEVER_URL"];
/** Operator docs whose metric names must exist too. */
const DOCS = [
  "docs/runbook.md",
  "docs/deployment.md",
  "docs/disaster-recovery.md",
  "docs/lifecycle.md",
];

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await filesUnder(path));
    else out.push(path);
  }
  return out.sort();
}

async function sourceFiles(): Promise<string[]> {
  const skip = /^(node_modules|tests|deploy|docs|\.des|\.git|cov|dist)$/;
  const walk = async (dir: string): Promise<string[]> => {
    const out: string[] = [];
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory && !skip.test(entry.name)) {
        out.push(...await walk(`${dir}/${entry.name}`));
      } else if (entry.isFile && entry.name.endsWith(".ts")) out.push(`${dir}/${entry.name}`);
    }
    return out;
  };
  return await walk(ROOT);
}

/** Metrics the code registers, by name: counter, gauge or histogram. */
async function registeredMetrics(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const pattern = /\.(counter|gauge|histogram)\(\s*"(des_[a-z0-9_]+)"/g;
  for (const file of await sourceFiles()) {
    for (const m of (await Deno.readTextFile(file)).matchAll(pattern)) out.set(m[2], m[1]);
  }
  return out;
}

/** Any `des_*` name (dashboard and alert rules name nothing else). */
const ANY_DES_NAME = /\bdes_[a-z0-9_]+/g;
/** Names of the metric families (docs also name tables such as `des_containers`, `des_scrub_results`). */
const METRIC_FAMILY_NAME =
  /\bdes_(?:(?:gateway|retriever|packer|marker)_|scrub_(?!results\b))[a-z0-9_]+/g;

/** The metric names `pattern` finds in a text that are not registered (histogram series resolved). */
function unknownMetrics(text: string, registered: Map<string, string>, pattern: RegExp): string[] {
  const unknown: string[] = [];
  for (const [name] of text.matchAll(pattern)) {
    if (registered.has(name)) continue;
    const base = name.replace(/_(bucket|sum|count)$/, "");
    if (base !== name && registered.get(base) === "histogram") continue;
    unknown.push(name);
  }
  return unknown;
}

function yamlDocs(text: string, file: string): Record<string, unknown>[] {
  return parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0].message}`);
    return doc.toJS() as Record<string, unknown>;
  }).filter((doc) => doc !== null);
}

/** Lines of a systemd unit: sections and key=value, continuation lines joined. */
function parseUnit(text: string, file: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  const lines = text.replace(/\\\n\s*/g, " ").split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = /^\[([A-Za-z]+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1], current);
      continue;
    }
    const kv = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (!kv || !current) throw new Error(`${file}:${i + 1}: not a unit line: ${line}`);
    current.set(kv[1], [...(current.get(kv[1]) ?? []), kv[2]]);
  }
  return sections;
}

/** `[script, ...args]` of every DES process the deploy files run. */
async function commandLines(): Promise<{ file: string; argv: string[] }[]> {
  const out: { file: string; argv: string[] }[] = [];
  for (const file of await filesUnder(`${DEPLOY}/systemd`)) {
    if (!file.endsWith(".service")) continue;
    const unit = parseUnit(await Deno.readTextFile(file), file);
    for (const exec of unit.get("Service")?.get("ExecStart") ?? []) {
      const words = exec.split(/\s+/);
      const script = words.findIndex((w) => w.endsWith(".ts"));
      out.push({ file, argv: words.slice(script) });
    }
  }
  for (const file of await filesUnder(`${DEPLOY}/kubernetes`)) {
    if (!file.endsWith(".yaml")) continue;
    for (const doc of yamlDocs(await Deno.readTextFile(file), file)) {
      for (const container of containersOf(doc)) {
        out.push({ file, argv: (container.args ?? []).map(String) });
      }
    }
  }
  return out;
}

interface Container {
  image?: string;
  command?: string[];
  args?: unknown[];
  env?: { name: string; value?: string }[];
  envFrom?: { secretRef?: { name: string }; configMapRef?: { name: string } }[];
}

function containersOf(doc: Record<string, unknown>): Container[] {
  // deno-lint-ignore no-explicit-any
  const d = doc as any;
  const pod = d?.spec?.jobTemplate?.spec?.template?.spec ?? d?.spec?.template?.spec;
  return (pod?.containers ?? []) as Container[];
}

Deno.test("deploy: every YAML, JSON and unit file parses; every alert has a runbook section", async () => {
  const files = await filesUnder(DEPLOY);
  assert(files.length >= 20, `expected the deploy tree, found ${files.length} files`);
  for (const file of files) {
    const text = await Deno.readTextFile(file);
    if (/\.ya?ml$/.test(file)) yamlDocs(text, file);
    else if (file.endsWith(".json")) JSON.parse(text);
    else if (/\.(service|timer)$/.test(file)) parseUnit(text, file);
  }
  const dashboard = JSON.parse(await Deno.readTextFile(`${DEPLOY}/grafana/des-dashboard.json`));
  assert(dashboard.panels.length >= 10);
  const alerts = parseYaml(await Deno.readTextFile(`${DEPLOY}/prometheus/des-alerts.yml`));
  const runbook = await Deno.readTextFile(`${ROOT}/docs/runbook.md`);
  const anchors = new Set(
    [...runbook.matchAll(/^#+ (.+)$/gm)].map((m) =>
      m[1].toLowerCase().replace(/[^a-z0-9 -]/g, "").replace(/ /g, "-")
    ),
  );
  for (const group of alerts.groups) {
    for (const rule of group.rules) {
      assert(rule.alert && rule.expr, `${group.name}: a rule without alert or expr`);
      const link = /^docs\/runbook\.md#(.+)$/.exec(rule.annotations?.runbook ?? "");
      assert(link && anchors.has(link[1]), `${rule.alert}: no runbook section ${link?.[1]}`);
    }
  }
});

Deno.test("deploy: every metric named in the dashboard, alerts and docs is registered by the code", async () => {
  const registered = await registeredMetrics();
  assert(registered.size >= 20, `found only ${registered.size} registered metrics`);
  const texts: [string, RegExp][] = [
    [`${DEPLOY}/grafana/des-dashboard.json`, ANY_DES_NAME],
    [`${DEPLOY}/prometheus/des-alerts.yml`, ANY_DES_NAME],
    ...DOCS.map((d): [string, RegExp] => [`${ROOT}/${d}`, METRIC_FAMILY_NAME]),
  ];
  for (const [file, pattern] of texts) {
    const text = await Deno.readTextFile(file);
    assertEquals(unknownMetrics(text, registered, pattern), [], `unknown metrics in ${file}`);
  }
  const dashboard = await Deno.readTextFile(`${DEPLOY}/grafana/des-dashboard.json`);
  for (const wanted of ["des_gateway_requests_total", "des_retriever_s3_requests_per_read"]) {
    assert(dashboard.includes(wanted), `the dashboard has no panel on ${wanted}`);
  }
});

Deno.test("deploy: the processes the units and manifests run exist, with the flags they pass", async () => {
  const lines = await commandLines();
  assert(lines.length >= 8, `found ${lines.length} command lines`);
  for (const { file, argv } of lines) {
    const [script, ...args] = argv;
    const source = await Deno.readTextFile(`${ROOT}/${script}`);
    if (script === "cli/des.ts") {
      assert(args[0] in COMMANDS, `${file}: des has no command ${args[0]}`);
      continue;
    }
    for (const arg of args) {
      const flag = /^--([a-z-]+)$/.exec(arg)?.[1];
      if (!flag) continue;
      assert(
        source.includes(`${flag}: {`) || source.includes(`"${flag}": {`),
        `${file}: ${script} has no option --${flag}`,
      );
    }
  }
});

Deno.test("deploy: DES_* variables are read by the code; the env template lists every setting", async () => {
  const read = new Set<string>();
  for (const file of await sourceFiles()) {
    for (const [name] of (await Deno.readTextFile(file)).matchAll(/"(DES_[A-Z0-9_]+)"/g)) {
      read.add(name.slice(1, -1));
    }
  }
  const dsnVars = (text: string) =>
    [...text.matchAll(/dsn_env:\s*(DES_[A-Z0-9_]+)/g)].map((m) => m[1]);
  for (const dsn of dsnVars(await Deno.readTextFile(`${ROOT}/configs/sources.yaml`))) read.add(dsn);
  for (
    const dsn of dsnVars(await Deno.readTextFile(`${DEPLOY}/kubernetes/configmap-configs.yaml`))
  ) {
    read.add(dsn);
  }
  for (const file of await filesUnder(DEPLOY)) {
    const text = (await Deno.readTextFile(file)).replace(/^\s*#.*$/gm, "");
    for (const [name] of text.matchAll(/\bDES_[A-Z0-9_]+\b/g)) {
      if (UNIT_VARIABLES.includes(name)) {
        assert(
          file.endsWith("des-retriever@.service"),
          `${file}: ${name} is the retriever unit's own`,
        );
        continue;
      }
      assert(read.has(name), `${file}: ${name} is read by no code`);
    }
  }
  const template = await Deno.readTextFile(`${DEPLOY}/systemd/des.env.example`);
  const gatewayVars = ["DES_GATEWAY_API_KEYS", "DES_GATEWAY_RATE_LIMIT", "DES_GATEWAY_AUDIT"];
  for (const name of [...Object.values(SETTINGS).map((s) => s.env), ...gatewayVars]) {
    assert(new RegExp(`^#?${name}=`, "m").test(template), `des.env.example lacks ${name}`);
  }
});

Deno.test("deploy: the Kubernetes routing table covers every shard and matches the retrievers", async () => {
  const env = yamlDocs(
    await Deno.readTextFile(`${DEPLOY}/kubernetes/configmap-env.yaml`),
    "configmap-env.yaml",
  )[0] as { data: Record<string, string> };
  const configs = yamlDocs(
    await Deno.readTextFile(`${DEPLOY}/kubernetes/configmap-configs.yaml`),
    "configmap-configs.yaml",
  )[0] as { data: Record<string, string> };
  const routes = parseRoutesYaml(configs.data["retrievers.yaml"], "configmap retrievers.yaml");
  RoutingTable.build(routes, 2 ** Number(env.data.DES_SHARD_BITS));

  const retrievers = new Map<string, string[]>();
  for (const file of await filesUnder(`${DEPLOY}/kubernetes`)) {
    if (!file.endsWith(".yaml")) continue;
    for (const doc of yamlDocs(await Deno.readTextFile(file), file)) {
      for (const c of containersOf(doc)) {
        const args = (c.args ?? []).map(String);
        if (args[0] === "retriever/main.ts") {
          retrievers.set(args[args.indexOf("--id") + 1], args);
        }
      }
    }
  }
  assertEquals([...retrievers.keys()].sort(), routes.map((r) => r.id).sort());
  for (const route of routes) {
    const args = retrievers.get(route.id)!;
    assertEquals(args[args.indexOf("--url") + 1], route.url);
    assertEquals(args[args.indexOf("--range") + 1], `${route.range.start}-${route.range.end}`);
  }

  const dir = await Deno.makeTempDir({ prefix: "des-deploy-test-" });
  try {
    await Deno.writeTextFile(`${dir}/sources.yaml`, configs.data["sources.yaml"]);
    const dsn = new Map([["DES_PARENT_DOCUMENTS_DSN", "postgres://des@127.0.0.1:5432/parent"]]);
    const sources = await loadSources(`${dir}/sources.yaml`, dsn);
    assertEquals(sources.map((s) => s.name), ["documents"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** `[file, deno flags]` of every DES process the units, manifests and the image run. */
async function denoFlagSets(): Promise<{ file: string; role: string; flags: string[] }[]> {
  const out: { file: string; role: string; flags: string[] }[] = [];
  for (const file of await filesUnder(`${DEPLOY}/systemd`)) {
    if (!file.endsWith(".service")) continue;
    const unit = parseUnit(await Deno.readTextFile(file), file);
    for (const exec of unit.get("Service")?.get("ExecStart") ?? []) {
      const words = exec.split(/\s+/);
      const script = words.findIndex((w) => w.endsWith(".ts"));
      out.push({ file, role: words[script], flags: words.slice(0, script) });
    }
  }
  for (const file of await filesUnder(`${DEPLOY}/kubernetes`)) {
    if (!file.endsWith(".yaml")) continue;
    for (const doc of yamlDocs(await Deno.readTextFile(file), file)) {
      for (const c of containersOf(doc)) {
        out.push({ file, role: String(c.args?.[0]), flags: (c.command ?? []).map(String) });
      }
    }
  }
  const docker = await Deno.readTextFile(`${DEPLOY}/container/Dockerfile`);
  for (const [, json] of docker.matchAll(/^(?:ENTRYPOINT|CMD) (\[.*\])$/gm)) {
    out.push({ file: "Dockerfile", role: "image", flags: JSON.parse(json) });
  }
  return out;
}

Deno.test("deploy: every process runs with its own narrow Deno permissions", async () => {
  const sets = await denoFlagSets();
  assert(sets.length >= 10, `found ${sets.length} command lines`);
  const secrets = yamlDocs(
    await Deno.readTextFile(`${DEPLOY}/kubernetes/secret.example.yaml`),
    "secret.example.yaml",
  ) as { metadata: { name: string }; stringData: Record<string, string> }[];
  const env = yamlDocs(
    await Deno.readTextFile(`${DEPLOY}/kubernetes/configmap-env.yaml`),
    "configmap-env.yaml",
  )[0] as { data: Record<string, string> };
  const s3Host = new URL(env.data.DES_S3_ENDPOINT).host;
  for (const { file, role, flags } of sets) {
    const where = `${file} (${role})`;
    for (const f of flags) {
      assert(!["-A", "--allow-all", "--allow-run", "--allow-ffi"].includes(f.split("=")[0]), where);
      if (f.startsWith("--allow-write") || f.startsWith("--allow-sys")) {
        assert(f.includes("="), `${where}: ${f} must name what it allows`);
      }
    }
    if (role === "image") continue;
    const read = flags.find((f) => f.startsWith("--allow-read"));
    if (read?.includes("=") && !file.includes("migrate-job")) {
      // Without it the open file descriptor metrics are silently left out.
      assert(read.split("=")[1].split(",").includes("/proc/self"), `${where}: ${read}`);
    }
    assert(flags.some((f) => f.startsWith("--allow-net")), `${where} has no network`);
    if (!file.includes("/kubernetes/")) continue;
    // Kubernetes knows every host: --allow-net names them, and they match the settings.
    const net = flags.find((f) => f.startsWith("--allow-net="));
    assert(net, `${where}: --allow-net must name its hosts`);
    const hosts = net.slice("--allow-net=".length).split(",");
    const secret = secrets.find((s) =>
      containersOfFile(file).some((c) =>
        (c.envFrom ?? []).some((e) => e.secretRef?.name === s.metadata.name)
      )
    );
    assert(secret, `${where}: no Secret of its own`);
    const dbHost = new URL(secret.stringData.DES_DATABASE_URL).host;
    assert(hosts.includes(dbHost), `${where}: --allow-net lacks the database ${dbHost}`);
    if (secret.stringData.DES_S3_ACCESS_KEY_ID) {
      assert(hosts.includes(s3Host), `${where}: --allow-net lacks S3 at ${s3Host}`);
    }
  }
});

const containerCache = new Map<string, Container[]>();
function containersOfFile(file: string): Container[] {
  let list = containerCache.get(file);
  if (!list) {
    list = yamlDocs(Deno.readTextFileSync(file), file).flatMap(containersOf);
    containerCache.set(file, list);
  }
  return list;
}

Deno.test("deploy: Kubernetes pods are hardened, one Secret per role, retrievers fenced off", async () => {
  const kinds = new Map<string, Record<string, unknown>[]>();
  const secretsByRole = new Map<string, Set<string>>();
  for (const file of await filesUnder(`${DEPLOY}/kubernetes`)) {
    if (!file.endsWith(".yaml") || file.endsWith("secret.example.yaml")) continue;
    for (const doc of yamlDocs(await Deno.readTextFile(file), file)) {
      const kind = String(doc.kind);
      kinds.set(kind, [...(kinds.get(kind) ?? []), doc]);
      // deno-lint-ignore no-explicit-any
      const d = doc as any;
      const pod = d?.spec?.jobTemplate?.spec?.template?.spec ?? d?.spec?.template?.spec;
      if (!pod) continue;
      const where = `${file} ${d.metadata?.name}`;
      assertEquals(pod.securityContext?.runAsNonRoot, true, where);
      assertEquals(pod.securityContext?.seccompProfile?.type, "RuntimeDefault", where);
      for (const c of pod.containers) {
        assertEquals(c.securityContext?.allowPrivilegeEscalation, false, where);
        assertEquals(c.securityContext?.readOnlyRootFilesystem, true, where);
        assertEquals(c.securityContext?.capabilities?.drop, ["ALL"], where);
        const role = String(c.args?.[0]).split("/")[0] + (c.args?.[1] === "migrate" ? "-m" : "");
        // deno-lint-ignore no-explicit-any
        for (const e of c.envFrom ?? [] as any[]) {
          if (!e.secretRef) continue;
          assert(e.secretRef.name !== "des-secrets", `${where}: a shared Secret`);
          secretsByRole.set(role, new Set([...(secretsByRole.get(role) ?? []), e.secretRef.name]));
        }
      }
    }
  }
  const owners = new Map<string, string>();
  for (const [role, names] of secretsByRole) {
    assertEquals(names.size, 1, `${role} mounts ${[...names]}`);
    const [name] = names;
    assert(!owners.has(name) || owners.get(name) === role, `${name} shared by ${role}`);
    owners.set(name, role);
  }
  assert(owners.size >= 5, `Secrets: ${[...owners.keys()]}`);

  // deno-lint-ignore no-explicit-any
  const policies = (kinds.get("NetworkPolicy") ?? []) as any[];
  const retrieverPolicy = policies.find((p) =>
    p.spec.podSelector?.matchLabels?.["app.kubernetes.io/name"] === "des-retriever"
  );
  assert(retrieverPolicy, "no NetworkPolicy for the retrievers");
  const peers = retrieverPolicy.spec.ingress.flatMap((r: { from: unknown[] }) => r.from);
  const admitted = peers.map((p: { podSelector?: { matchLabels?: Record<string, string> } }) =>
    p.podSelector?.matchLabels?.["app.kubernetes.io/name"]
  );
  assertEquals(admitted.sort(), ["des-gateway", "prometheus"]);
  assert(
    policies.some((p) =>
      Object.keys(p.spec.podSelector ?? {}).length === 0 && p.spec.policyTypes.includes("Ingress")
    ),
    "no default-deny ingress policy",
  );
  // deno-lint-ignore no-explicit-any
  const pdbs = (kinds.get("PodDisruptionBudget") ?? []) as any[];
  const guarded = pdbs.map((p) => p.spec.selector.matchLabels["app.kubernetes.io/name"]).sort();
  assertEquals(guarded, ["des-gateway", "des-retriever"]);
  // deno-lint-ignore no-explicit-any
  const hpas = (kinds.get("HorizontalPodAutoscaler") ?? []) as any[];
  assertEquals(hpas.map((h) => [h.spec.scaleTargetRef.kind, h.spec.scaleTargetRef.name]), [
    ["Deployment", "des-gateway"],
  ]);
  const kustomization = await Deno.readTextFile(`${DEPLOY}/kubernetes/kustomization.yaml`);
  for (const f of ["networkpolicy.yaml", "disruption-budgets.yaml", "gateway-hpa.yaml"]) {
    assert(kustomization.includes(`- ${f}`), `kustomization.yaml lacks ${f}`);
  }
});

Deno.test("deploy: the retriever unit binds to a private address, not every interface", async () => {
  const unit = parseUnit(
    await Deno.readTextFile(`${DEPLOY}/systemd/des-retriever@.service`),
    "des-retriever@.service",
  );
  const exec = unit.get("Service")!.get("ExecStart")!.join(" ");
  assert(/--host \$\{DES_RETRIEVER_HOST\}/.test(exec), exec);
  assert(!exec.includes("0.0.0.0"), exec);
});

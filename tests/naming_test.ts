import assert from "node:assert/strict";
import { DesConfigError, DesInputError } from "../core/errors.ts";
import {
  composeId,
  decomposeId,
  DES_EPOCH_MS,
  encodeId,
  formatName,
  isValidName,
  MAX_ID,
  MAX_SEQUENCE,
  MAX_TIMESTAMP,
  mix64,
  type NameFormat,
  NameGenerator,
  nameLength,
  nameRegex,
  namesApp,
  namingConfigFromEnv,
  parseName,
  shardOf,
  shardOfId,
} from "../naming/mod.ts";
import { encodeWords, idWords, shardOfWords } from "../naming/id_words.ts";

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

/** A clock that returns the given readings, then repeats the last one. */
function scriptedClock(readings: number[]): () => number {
  let i = 0;
  return () => readings[Math.min(i++, readings.length - 1)];
}

/** A deterministic clock that advances 1 ms every `idsPerMs` calls. */
function steppingClock(start: number, idsPerMs: number): () => number {
  let calls = 0;
  return () => start + Math.floor(calls++ / idsPerMs);
}

function assertRejected(name: unknown, format: NameFormat, reason: string): void {
  assert.throws(
    () => parseName(name as string, format),
    (err: unknown) => {
      assert.ok(err instanceof DesInputError, `expected DesInputError, got ${err}`);
      assert.equal(err.context.reason, reason, `${JSON.stringify(name)}: ${err.message}`);
      return true;
    },
  );
  assert.equal(isValidName(name, format), false);
}

Deno.test("id layout: compose and decompose round trip at the edges", () => {
  for (
    const parts of [
      { timestamp: 0, nodeId: 0, sequence: 0 },
      { timestamp: MAX_TIMESTAMP, nodeId: 1023, sequence: MAX_SEQUENCE },
      { timestamp: 123456789, nodeId: 512, sequence: 7 },
    ]
  ) {
    assert.deepEqual(decomposeId(composeId(parts)), parts);
  }
  assert.equal(composeId({ timestamp: MAX_TIMESTAMP, nodeId: 1023, sequence: 4095 }), MAX_ID);
  assert.throws(() => composeId({ timestamp: 0, nodeId: 1024, sequence: 0 }), DesInputError);
  assert.throws(() => composeId({ timestamp: 0, nodeId: 0, sequence: 4096 }), DesInputError);
  assert.throws(() => decomposeId(MAX_ID + 1n), DesInputError);
  assert.equal(DES_EPOCH_MS, Date.parse("2024-01-01T00:00:00Z"));
});

Deno.test("base32 text is 13 chars and sorts like the ids", () => {
  assert.equal(encodeId(0n), "0000000000000");
  assert.equal(encodeId(MAX_ID), "7zzzzzzzzzzzz");
  let x = 0x9e3779b97f4a7c15n;
  const ids: bigint[] = [];
  for (let i = 0; i < 2000; i++) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n);
    ids.push(x >> 1n);
  }
  const byId = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(encodeId);
  const byText = ids.map(encodeId).sort();
  assert.deepEqual(byText, byId);
});

Deno.test("1M ids from one generator are unique and strictly increasing", () => {
  const gen = new NameGenerator({ nodeId: 7, shardBits: 8, prefix: "" });
  let previous = -1n;
  const names = new Set<string>();
  for (let i = 0; i < 1_000_000; i++) {
    const id = gen.nextId();
    assert.ok(id > previous, `id ${i} did not increase`);
    previous = id;
    names.add(formatName(id, gen.config));
  }
  assert.equal(names.size, 1_000_000);
});

Deno.test("nextBatch gives exactly the names next() gives, at every shard width and the edges", () => {
  // Random ids across the whole 63-bit space: shard and text made on words equal the bigint ones.
  const random = new BigUint64Array(2000);
  crypto.getRandomValues(random);
  const edges = [0n, 1n, MAX_ID, MAX_ID - 1n, 1n << 32n, (1n << 32n) - 1n, 1n << 62n];
  for (const raw of [...edges, ...Array.from(random, (r) => r & MAX_ID)]) {
    const hi = Number(raw >> 32n), lo = Number(raw & 0xffffffffn);
    assert.equal(encodeWords(hi, lo), encodeId(raw));
    for (let bits = 1; bits <= 16; bits++) {
      assert.equal(shardOfWords(hi, lo, bits), shardOfId(raw, bits));
    }
  }
  for (
    const [timestamp, nodeId, sequence] of [[0, 0, 0], [MAX_TIMESTAMP, 1023, MAX_SEQUENCE], [
      123456789,
      513,
      77,
    ]]
  ) {
    const { hi, lo } = idWords(timestamp, nodeId, sequence);
    assert.equal((BigInt(hi) << 32n) | BigInt(lo), composeId({ timestamp, nodeId, sequence }));
  }
  // The generator: same clock readings, same names, one by one or in a batch (across overflows).
  for (const format of [{ shardBits: 3, prefix: "" }, { shardBits: 16, prefix: "ab12" }]) {
    const one = new NameGenerator({ ...format, nodeId: 9, clock: steppingClock(T0, 5000) });
    const batch = new NameGenerator({ ...format, nodeId: 9, clock: steppingClock(T0, 5000) });
    const expected = Array.from({ length: 9000 }, () => one.next());
    assert.deepEqual([...batch.nextBatch(4000), ...batch.nextBatch(5000)], expected);
  }
});

Deno.test("4 nodes on the same clock never collide", () => {
  const format = { shardBits: 8, prefix: "x1" };
  const all = new Set<string>();
  for (let node = 0; node < 4; node++) {
    const gen = new NameGenerator({ ...format, nodeId: node * 300, clock: () => T0 });
    for (const name of gen.nextBatch(50_000)) {
      assert.equal(parseName(name, format).nodeId, node * 300);
      all.add(name);
    }
  }
  assert.equal(all.size, 200_000);
});

Deno.test("a clock stepping back keeps the last timestamp and never repeats", () => {
  const gen = new NameGenerator({
    nodeId: 1,
    shardBits: 8,
    prefix: "",
    clock: scriptedClock([T0, T0, T0 - 5000, T0 - 1, T0 + 10]),
  });
  const parts = Array.from({ length: 5 }, () => decomposeId(gen.nextId()));
  const base = T0 - DES_EPOCH_MS;
  assert.deepEqual(parts.map((p) => [p.timestamp, p.sequence]), [
    [base, 0],
    [base, 1],
    [base, 2],
    [base, 3],
    [base + 10, 0],
  ]);
});

Deno.test("sequence overflow borrows the next millisecond", () => {
  const gen = new NameGenerator({ nodeId: 3, shardBits: 8, prefix: "", clock: () => T0 });
  const base = T0 - DES_EPOCH_MS;
  const ids = Array.from({ length: 4096 * 3 + 2 }, () => gen.nextId());
  const parts = ids.map(decomposeId);
  assert.deepEqual(parts[4095], { timestamp: base, nodeId: 3, sequence: 4095 });
  assert.deepEqual(parts[4096], { timestamp: base + 1, nodeId: 3, sequence: 0 });
  assert.deepEqual(parts[4096 * 3 + 1], { timestamp: base + 3, nodeId: 3, sequence: 1 });
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1]);
});

Deno.test("clock before the epoch or past 2093 is a configuration error", () => {
  const early = new NameGenerator({ nodeId: 0, shardBits: 8, prefix: "", clock: () => 0 });
  assert.throws(() => early.next(), DesConfigError);
  const late = new NameGenerator({
    nodeId: 0,
    shardBits: 8,
    prefix: "",
    clock: () => DES_EPOCH_MS + MAX_TIMESTAMP + 1,
  });
  assert.throws(() => late.next(), DesConfigError);
});

Deno.test("parse round trip for every shard width, with and without prefix", () => {
  for (let shardBits = 1; shardBits <= 16; shardBits++) {
    for (const prefix of ["", "a", "tenant0123456789"]) {
      const format = { shardBits, prefix };
      const gen = new NameGenerator({ ...format, nodeId: 1023, clock: steppingClock(T0, 3) });
      const regex = nameRegex(format);
      for (const name of gen.nextBatch(200)) {
        const parsed = parseName(name, format);
        assert.ok(regex.test(name), `${name} vs ${regex}`);
        assert.equal(name.length, nameLength(format));
        assert.equal(formatName(parsed.id, format), name);
        assert.equal(parsed.nodeId, 1023);
        assert.ok(Math.abs(parsed.timestamp.getTime() - T0) < 100);
        assert.equal(parsed.shard, shardOfId(parsed.id, shardBits));
        assert.equal(shardOf(name, format), parsed.shard);
        assert.ok(parsed.shard < 2 ** shardBits);
      }
    }
  }
});

Deno.test("a known id has a fixed name (the hash and text shape are stable)", () => {
  const id = composeId({ timestamp: T0 - DES_EPOCH_MS, nodeId: 5, sequence: 1 });
  const name = formatName(id, { shardBits: 8, prefix: "acme" });
  assert.equal(name, `acme-${shardOfId(id, 8).toString(16).padStart(2, "0")}-${encodeId(id)}`);
  assert.equal(name, "acme-94-07bmnwv5r0m01");
  assert.equal(formatName(id, { shardBits: 12, prefix: "" }), "94c-07bmnwv5r0m01");
  // SplitMix64 reference: the first output for seed 0 is mix64(0x9e3779b97f4a7c15).
  assert.equal(mix64(0x9e3779b97f4a7c15n), 0xe220a8397b1dcdafn);
});

Deno.test("every kind of malformed name is rejected with a precise reason", () => {
  const format = { shardBits: 8, prefix: "acme" };
  const gen = new NameGenerator({ ...format, nodeId: 9, clock: () => T0 });
  const good = gen.next();
  assert.ok(isValidName(good, format));
  const [, shardHex, idText] = good.split("-");
  const otherShard = ((parseInt(shardHex, 16) + 1) % 256).toString(16).padStart(2, "0");
  const flip = (s: string, i: number, c: string) => s.slice(0, i) + c + s.slice(i + 1);

  assertRejected(42, format, "not-a-string");
  assertRejected(null, format, "not-a-string");
  assertRejected("a".repeat(65), format, "too-long");
  assertRejected("", format, "bad-prefix");
  assertRejected(`acmf-${shardHex}-${idText}`, format, "bad-prefix");
  assertRejected(`${shardHex}-${idText}`, format, "bad-prefix");
  assertRejected(`acme_${shardHex}-${idText}`, format, "bad-prefix");
  assertRejected(good.slice(0, -1), format, "bad-length");
  assertRejected(`${good}0`, format, "bad-length");
  assertRejected(`acme-${shardHex}${idText}0`, format, "bad-separator");
  assertRejected(`acme-${shardHex}_${idText}`, format, "bad-separator");
  assertRejected(`acme-zz-${idText}`, format, "bad-shard-digit");
  assertRejected(`acme-${shardHex}-${idText.slice(0, 5)}A${idText.slice(6)}`, format, "uppercase");
  for (const bad of ["i", "l", "o", "u", "!", "é", " "]) {
    assertRejected(`acme-${shardHex}-${flip(idText, 4, bad)}`, format, "bad-id-digit");
  }
  assertRejected(`acme-${shardHex}-${flip(idText, 0, "8")}`, format, "id-overflow");
  assertRejected(`acme-${otherShard}-${idText}`, format, "shard-mismatch");
  // Shard range is checked against the configured bits (6 bits: 00..3f).
  assertRejected(`acme-40-${idText}`, { shardBits: 6, prefix: "acme" }, "shard-out-of-range");
  // A name made under other shard bits is not a valid name under these.
  const wide = new NameGenerator({ shardBits: 12, prefix: "acme", nodeId: 9, clock: () => T0 });
  assertRejected(wide.next(), format, "bad-length");
  // An uppercase shard digit: build one that is certainly a letter.
  assertRejected(`acme-A0-${idText}`, format, "uppercase");
});

Deno.test("a single changed id character makes the shard disagree", () => {
  const format = { shardBits: 16, prefix: "" };
  const gen = new NameGenerator({ ...format, nodeId: 2, clock: steppingClock(T0, 1) });
  for (const name of gen.nextBatch(100)) {
    const last = name.at(-1) === "0" ? "1" : "0";
    const changed = name.slice(0, -1) + last;
    assertRejected(changed, format, "shard-mismatch");
  }
});

function chiSquare(counts: number[], total: number): number {
  const expected = total / counts.length;
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}

Deno.test("shards are spread uniformly (chi-square, deterministic ids)", () => {
  for (const [shardBits, perShard] of [[1, 50_000], [4, 5_000], [8, 1_000], [12, 60]]) {
    const bins = 2 ** shardBits;
    const total = bins * perShard;
    const counts = new Array(bins).fill(0);
    const gen = new NameGenerator({
      nodeId: 17,
      shardBits,
      prefix: "",
      clock: steppingClock(T0, 37),
    });
    for (let i = 0; i < total; i++) counts[shardOfId(gen.nextId(), shardBits)]++;
    const df = bins - 1;
    // Mean df, standard deviation sqrt(2 df): 6 deviations is p < 1e-8 for a uniform hash.
    const bound = df + 6 * Math.sqrt(2 * df) + 10;
    const chi2 = chiSquare(counts, total);
    assert.ok(chi2 < bound, `bits ${shardBits}: chi2 ${chi2.toFixed(1)} >= ${bound.toFixed(1)}`);
  }
});

Deno.test("changing DES_SHARD_BITS splits or merges shards by one bit", () => {
  const gen = new NameGenerator({
    nodeId: 4,
    shardBits: 16,
    prefix: "",
    clock: steppingClock(T0, 5),
  });
  for (let i = 0; i < 5000; i++) {
    const id = gen.nextId();
    for (let bits = 2; bits <= 16; bits++) {
      assert.equal(shardOfId(id, bits - 1), shardOfId(id, bits) >> 1);
    }
    assert.equal(shardOfId(id, 8), shardOfId(id, 16) >> 8);
  }
});

Deno.test("naming configuration from the environment", () => {
  assert.deepEqual(namingConfigFromEnv({}), { shardBits: 8, prefix: "", nodeId: 0 });
  assert.deepEqual(
    namingConfigFromEnv({ DES_SHARD_BITS: "12", DES_NAME_PREFIX: "eu1", DES_NODE_ID: "1023" }),
    { shardBits: 12, prefix: "eu1", nodeId: 1023 },
  );
  for (
    const env of [
      { DES_SHARD_BITS: "0" },
      { DES_SHARD_BITS: "17" },
      { DES_SHARD_BITS: "8.5" },
      { DES_NODE_ID: "1024" },
      { DES_NODE_ID: "-1" },
      { DES_NAME_PREFIX: "Acme" },
      { DES_NAME_PREFIX: "a-b" },
      { DES_NAME_PREFIX: "x".repeat(17) },
    ]
  ) {
    assert.throws(() => namingConfigFromEnv(env), DesConfigError, JSON.stringify(env));
  }
});

Deno.test("POST /names hands out valid names and rejects bad input as problem+json", async () => {
  const format = { shardBits: 10, prefix: "n" };
  const app = namesApp(new NameGenerator({ ...format, nodeId: 11 }));
  const post = (body: string) =>
    app.request("/names", {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
    });

  const ok = await post(JSON.stringify({ count: 3 }));
  assert.equal(ok.status, 200);
  const { names } = await ok.json() as { names: { name: string; shard: number }[] };
  assert.equal(names.length, 3);
  for (const { name, shard } of names) assert.equal(shardOf(name, format), shard);
  assert.equal(new Set(names.map((n) => n.name)).size, 3);

  const max = await post(JSON.stringify({ count: 10_000 }));
  assert.equal((await max.json()).names.length, 10_000);
  const one = await post("");
  assert.equal((await one.json()).names.length, 1);

  for (
    const body of ['{"count":0}', '{"count":10001}', '{"count":"5"}', '{"count":1.5}', "[1]", "{"]
  ) {
    const res = await post(body);
    assert.equal(res.status, 400, body);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const problem = await res.json();
    assert.equal(problem.status, 400);
    assert.equal(problem.type, "https://des.dev/problems/bad-input");
  }
});

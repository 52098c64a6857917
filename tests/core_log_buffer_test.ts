import { assertEquals } from "./_helpers/assert.ts";
import { Logger } from "../core/log.ts";
import { BufferedLogSink } from "../core/log_buffer.ts";

Deno.test("log buffer: lines wait for the timer, the size bound, an error line or close", async () => {
  const batches: string[] = [];
  const buffer = new BufferedLogSink({ write: (t) => batches.push(t), flushMs: 20, maxBytes: 400 });
  const log = new Logger("test", { level: "debug", sink: buffer.sink });
  log.info("one");
  log.info("two");
  assertEquals(batches.length, 0);
  assertEquals(buffer.pending, 2);
  await new Promise((ok) => setTimeout(ok, 60));
  assertEquals(batches.length, 1);
  assertEquals(batches[0].split("\n").map((l) => l && JSON.parse(l).msg), ["one", "two", ""]);
  log.info("three");
  log.error("four");
  assertEquals(batches.length, 2, "an error line goes out at once, with the lines before it");
  assertEquals(batches[1].trim().split("\n").map((l) => JSON.parse(l).msg), ["three", "four"]);
  for (let i = 0; i < 10; i++) log.info("x".repeat(50));
  assertEquals(batches.length >= 3, true, "the size bound writes without waiting");
  log.info("last");
  buffer.close();
  assertEquals(buffer.pending, 0);
  assertEquals(batches.at(-1)!.trim().split("\n").at(-1)!.includes('"last"'), true);
  log.info("after close");
  assertEquals(batches.at(-1)!.includes('"after close"'), true, "late lines are not lost");
});

Deno.test("log buffer: lines still buffered are written when the process exits", async () => {
  const script = `
    import { Logger } from "${new URL("../core/log.ts", import.meta.url).href}";
    import { BufferedLogSink } from "${new URL("../core/log_buffer.ts", import.meta.url).href}";
    const buffer = new BufferedLogSink({ flushMs: 60_000 });
    const log = new Logger("exit", { level: "info", sink: buffer.sink });
    for (let i = 0; i < 3; i++) log.info("line " + i);
    Deno.exit(0);
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(out.stderr).trim().split("\n").map((l) => JSON.parse(l));
  assertEquals(lines.map((l) => l.msg), ["line 0", "line 1", "line 2"]);
});

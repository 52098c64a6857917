/**
 * Start a DES service as a child process and wait until it logs that it is
 * listening: the JSON log line whose `msg` is `readyMsg` carries the port.
 *
 * @module
 */

/** A started child process. */
export interface ServiceProcess {
  /** The process. */
  child: Deno.ChildProcess;
  /** The port from the ready line. */
  port: number;
  /** Every stderr line so far (for failure messages). */
  lines: string[];
}

/**
 * Spawn `command`, collect its stderr lines, and resolve with the `port` field
 * of the first JSON line whose `msg` equals `readyMsg`. Rejects (and kills the
 * child) when it exits first or does not get there within `timeoutMs`.
 */
export async function startService(
  command: Deno.Command,
  what: string,
  readyMsg: string,
  timeoutMs = 60_000,
): Promise<ServiceProcess> {
  const child = command.spawn();
  const lines: string[] = [];
  const ready = Promise.withResolvers<number>();
  (async () => {
    let buffer = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        if (line.includes(`"msg":"${readyMsg}"`)) ready.resolve(JSON.parse(line).port);
      }
    }
    if (buffer) lines.push(buffer);
    ready.reject(new Error(`${what} exited before "${readyMsg}":\n${lines.join("\n")}`));
  })();
  const timer = setTimeout(() => ready.reject(new Error(`${what} did not start`)), timeoutMs);
  try {
    return { child, port: await ready.promise, lines };
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

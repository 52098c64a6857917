/**
 * Network faults for tests, without touching the real services: a TCP
 * proxy in front of a server that can be paused (connections are accepted,
 * bytes stop flowing both ways — a frozen server, as SIGSTOP would make
 * it), and a black-hole listener that accepts connections and never
 * answers.
 *
 * @module
 */

/** A pausable TCP relay to `target`. */
export class TcpProxy {
  /** The local port to point clients at. */
  readonly port: number;
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.Conn>();
  #gate: PromiseWithResolvers<void> | undefined;

  private constructor(listener: Deno.TcpListener, target: { hostname: string; port: number }) {
    this.#listener = listener;
    this.port = listener.addr.port;
    this.#accept(target);
  }

  /** Listen on a free loopback port and relay to `target` (a `http://host:port` URL or address). */
  static start(target: string | { hostname: string; port: number }): TcpProxy {
    const to = typeof target === "string"
      ? { hostname: new URL(target).hostname, port: Number(new URL(target).port || 80) }
      : target;
    return new TcpProxy(Deno.listen({ hostname: "127.0.0.1", port: 0 }), to);
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Hold every byte (in both directions, on open and new connections) until {@linkcode resume}. */
  pause(): void {
    this.#gate ??= Promise.withResolvers<void>();
  }

  /** Let bytes flow again. */
  resume(): void {
    this.#gate?.resolve();
    this.#gate = undefined;
  }

  /** Stop listening and close every relayed connection. */
  close(): void {
    this.resume();
    try {
      this.#listener.close();
    } catch { /* closed */ }
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    this.#conns.clear();
  }

  async #accept(target: { hostname: string; port: number }): Promise<void> {
    try {
      for await (const client of this.#listener) this.#relay(client, target);
    } catch { /* listener closed */ }
  }

  async #relay(client: Deno.Conn, target: { hostname: string; port: number }): Promise<void> {
    this.#conns.add(client);
    let upstream: Deno.Conn | undefined;
    try {
      upstream = await Deno.connect(target);
      this.#conns.add(upstream);
      await Promise.race([this.#pump(client, upstream), this.#pump(upstream, client)]);
    } catch {
      /* either side went away */
    } finally {
      for (const c of [client, upstream]) {
        if (!c) continue;
        this.#conns.delete(c);
        try {
          c.close();
        } catch { /* closed */ }
      }
    }
  }

  async #pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) return;
      while (this.#gate) await this.#gate.promise;
      let written = 0;
      while (written < n) written += await to.write(buffer.subarray(written, n));
    }
  }
}

/** A listener that accepts connections and never reads or writes: a black hole. */
export class BlackHole {
  /** Its port. */
  readonly port: number;
  readonly #listener: Deno.TcpListener;
  readonly #conns: Deno.Conn[] = [];

  constructor() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#listener = listener;
    this.port = listener.addr.port;
    (async () => {
      try {
        for await (const c of listener) this.#conns.push(c);
      } catch { /* closed */ }
    })();
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Connections accepted so far. */
  get accepted(): number {
    return this.#conns.length;
  }

  /** Close the listener and every connection. */
  close(): void {
    try {
      this.#listener.close();
    } catch { /* closed */ }
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
  }
}

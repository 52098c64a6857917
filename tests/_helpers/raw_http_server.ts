/**
 * A TCP (or TLS) server on 127.0.0.1 that answers with exactly the bytes a
 * test scripts, for the edge cases of an HTTP/1.1 client: broken framing,
 * odd heads, half-closes, unsolicited bytes. It counts the connections it
 * accepted, the request heads it read, and the connections the client
 * closed.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One accepted connection, as a handler drives it. */
export interface RawConnection {
  /** The next request head (up to its blank line), or null when the client closed. */
  request(): Promise<string | null>;
  /** Write text (as Latin-1 free ASCII) or bytes. */
  write(data: string | Uint8Array): Promise<void>;
  /** Shut the sending half down (the client reads the end of the connection). */
  closeWrite(): Promise<void>;
  /** Close the connection. */
  close(): void;
}

/** What a connection does; when it returns the server waits for the client to close. */
export type RawHandler = (conn: RawConnection, index: number) => Promise<void>;

/** A scripted server; close it at the end of the test. */
export class RawHttpServer {
  /** Connections accepted. */
  accepted = 0;
  /** Request heads read. */
  requests = 0;
  /** Connections whose client closed (seen after the handler returned). */
  closedByClient = 0;
  readonly #listener: Deno.Listener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #served: Promise<void>;

  /** @param handler script of one connection @param tls certificate and key files for TLS */
  constructor(handler: RawHandler, tls?: { cert: string; key: string }) {
    this.#listener = tls
      ? Deno.listenTls({
        hostname: "127.0.0.1",
        port: 0,
        cert: Deno.readTextFileSync(tls.cert),
        key: Deno.readTextFileSync(tls.key),
      })
      : Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#served = this.#accept(handler);
  }

  /** Port listened on. */
  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** `http://127.0.0.1:PORT` (or `https://localhost:PORT` for TLS use `port`). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async #accept(handler: RawHandler): Promise<void> {
    const running: Promise<void>[] = [];
    try {
      for await (const conn of this.#listener) {
        running.push(this.#serve(conn, handler, this.accepted++));
      }
    } catch { /* listener closed */ }
    await Promise.all(running);
  }

  async #serve(conn: Deno.Conn, handler: RawHandler, index: number): Promise<void> {
    this.#conns.add(conn);
    let pending = new Uint8Array(0);
    let ended = false;
    const more = async (): Promise<boolean> => {
      const buf = new Uint8Array(16 * 1024);
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return false;
      const next = new Uint8Array(pending.length + n);
      next.set(pending);
      next.set(buf.subarray(0, n), pending.length);
      pending = next;
      return true;
    };
    const raw: RawConnection = {
      request: async () => {
        for (;;) {
          const text = decoder.decode(pending);
          const at = text.indexOf("\r\n\r\n");
          if (at >= 0) {
            pending = pending.slice(encoder.encode(text.slice(0, at + 4)).length);
            this.requests++;
            return text.slice(0, at);
          }
          if (!(await more())) {
            ended = true;
            return null;
          }
        }
      },
      write: async (data) => {
        const bytes = typeof data === "string" ? encoder.encode(data) : data;
        for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
      },
      closeWrite: () => conn.closeWrite(),
      close: () => this.#close(conn),
    };
    try {
      await handler(raw, index);
      if (!ended) { while (await more()) { /* drain until the client closes */ } }
      if (this.#conns.has(conn)) this.closedByClient++;
    } catch { /* the client went away */ }
    this.#close(conn);
  }

  #close(conn: Deno.Conn): void {
    if (!this.#conns.delete(conn)) return;
    try {
      conn.close();
    } catch { /* closed */ }
  }

  /** Stop listening, close every connection, wait for the handlers. */
  async close(): Promise<void> {
    this.#listener.close();
    for (const conn of [...this.#conns]) this.#close(conn);
    await this.#served;
  }
}

/** A handler that answers each request on a connection with `answer(head, n)` (n from 0 per connection). */
export function answering(
  answer: (head: string, n: number, index: number) => string | Uint8Array,
): RawHandler {
  return async (conn, index) => {
    for (let n = 0;; n++) {
      const head = await conn.request();
      if (head === null) return;
      await conn.write(answer(head, n, index));
    }
  };
}

/**
 * LISTEN subscriptions on PostgreSQL that survive lost connections.
 *
 * postgres.js's own `sql.listen` re-subscribes after a reconnect only once
 * and drops the subscription silently when that attempt fails (the server
 * still down), and its users cannot tell that notifications were missed.
 * Here one dedicated connection carries every channel; when it closes, all
 * channels are subscribed again, retrying with a growing pause until it
 * works or the pool is closed; every subscriber's `onLost` runs when the
 * connection closes and its `onListen` after each (re)subscription, so it
 * can stop trusting what it holds meanwhile and re-read what it missed.
 *
 * @module
 */

import postgres from "postgres";
import type { ListenOptions } from "./db.ts";
import { quoteIdent } from "./quote_ident.ts";
import { isConnectionError } from "./sql_errors.ts";

interface Subscriber {
  onPayload: (payload: string) => void;
  onListen?: () => void;
  onLost?: () => void;
}

/** Every LISTEN of one {@linkcode PostgresDb}, on one dedicated connection. */
export class PostgresListener {
  readonly #sql: postgres.Sql;
  readonly #channels = new Map<string, Set<Subscriber>>();
  #closed = false;
  #resubscribing: Promise<void> | undefined;

  /** @param url the database URL @param options postgres.js options of the pool */
  constructor(url: string, options: postgres.Options<Record<string, postgres.PostgresType>>) {
    this.#sql = postgres(url, {
      ...options,
      max: 1,
      idle_timeout: undefined,
      max_lifetime: null,
      onnotify: (channel: string, payload: string) => this.#deliver(channel, payload),
      onclose: () => this.#onClose(),
    } as postgres.Options<Record<string, postgres.PostgresType>>);
  }

  /** Subscribe; resolves once LISTEN ran. Returns the function that unsubscribes. */
  async listen(
    channel: string,
    onPayload: (payload: string) => void,
    options: ListenOptions = {},
  ): Promise<() => Promise<void>> {
    const subscriber: Subscriber = {
      onPayload,
      onListen: options.onListen,
      onLost: options.onLost,
    };
    let set = this.#channels.get(channel);
    const fresh = !set;
    if (!set) this.#channels.set(channel, set = new Set());
    set.add(subscriber);
    try {
      if (fresh) await this.#sql.unsafe(`listen ${quoteIdent(channel)}`);
    } catch (err) {
      set.delete(subscriber);
      if (set.size === 0) this.#channels.delete(channel);
      throw err;
    }
    subscriber.onListen?.();
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      const current = this.#channels.get(channel);
      current?.delete(subscriber);
      if (current?.size === 0 && !this.#closed) {
        this.#channels.delete(channel);
        await this.#sql.unsafe(`unlisten ${quoteIdent(channel)}`).catch(() => {});
      }
    };
  }

  /** Stop re-subscribing and close the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#sql.end({ timeout: 5 });
    await this.#resubscribing;
  }

  #deliver(channel: string, payload: string): void {
    for (const s of this.#channels.get(channel) ?? []) {
      try {
        s.onPayload(payload);
      } catch {
        // A subscriber's failure must not stop delivery to the others.
      }
    }
  }

  #onClose(): void {
    if (this.#closed || this.#channels.size === 0) return;
    for (const set of this.#channels.values()) {
      for (const s of set) {
        try {
          s.onLost?.();
        } catch {
          // As in delivery: one subscriber's failure stays its own.
        }
      }
    }
    if (this.#resubscribing) return;
    this.#resubscribing = this.#resubscribe().finally(() => this.#resubscribing = undefined);
  }

  async #resubscribe(): Promise<void> {
    for (let attempt = 1; !this.#closed; attempt++) {
      const channels = [...this.#channels.keys()];
      if (channels.length === 0) return;
      try {
        await this.#sql.unsafe(channels.map((c) => `listen ${quoteIdent(c)};`).join(" "));
      } catch (err) {
        if (this.#closed) return;
        if (!isConnectionError(err) && attempt > 3) return;
        await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)));
        continue;
      }
      for (const channel of channels) {
        for (const s of this.#channels.get(channel) ?? []) {
          try {
            s.onListen?.();
          } catch {
            // As in delivery: one subscriber's failure stays its own.
          }
        }
      }
      return;
    }
  }
}

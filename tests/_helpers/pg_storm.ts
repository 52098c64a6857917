/**
 * A connection storm: `pg_terminate_backend` on the backends of ONE test
 * database, again and again, from a connection to another database. Other
 * databases on the shared server are never touched.
 *
 * @module
 */

import { openDb } from "../../db/open_db.ts";
import { TEST_DATABASE_URL } from "./pg.ts";

/**
 * Terminate the backends of the database of `url` once, as soon as one of
 * them runs a statement containing `running` (polled in
 * `pg_stat_activity`, so the termination hits that statement in flight).
 * Returns the number of backends terminated.
 */
export async function terminateWhileRunning(url: string, running: string): Promise<number> {
  const database = decodeURIComponent(new URL(url).pathname.slice(1));
  const admin = await openDb(TEST_DATABASE_URL, { max: 1, applicationName: "des-test-storm" });
  try {
    for (;;) {
      const [{ n }] = await admin.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity
         where datname = $1 and state = 'active' and strpos(query, $2) > 0`,
        [database, running],
      );
      if (n > 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const rows = await admin.query<{ ok: boolean }>(
      `select pg_terminate_backend(pid) as ok from pg_stat_activity
       where datname = $1 and pid <> pg_backend_pid()`,
      [database],
    );
    return rows.filter((r) => r.ok).length;
  } finally {
    await admin.close();
  }
}

/** A running storm. */
export interface ConnectionStorm {
  /** Resolves when all rounds ran; the number of backends terminated in total. */
  done: Promise<number>;
  /** Stop after the current round; resolves like `done`. */
  stop(): Promise<number>;
}

/**
 * Terminate every backend of the database of `url` (never the storm's own,
 * never another database's) `rounds` times, `intervalMs` apart.
 */
export function startConnectionStorm(
  url: string,
  options: { rounds: number; intervalMs: number },
): ConnectionStorm {
  const database = decodeURIComponent(new URL(url).pathname.slice(1));
  let stopped = false;
  const done = (async () => {
    const admin = await openDb(TEST_DATABASE_URL, { max: 1, applicationName: "des-test-storm" });
    let terminated = 0;
    try {
      for (let round = 0; round < options.rounds && !stopped; round++) {
        await new Promise((r) => setTimeout(r, options.intervalMs));
        const rows = await admin.query<{ ok: boolean }>(
          `select pg_terminate_backend(pid) as ok from pg_stat_activity
           where datname = $1 and pid <> pg_backend_pid()`,
          [database],
        );
        terminated += rows.filter((r) => r.ok).length;
      }
    } finally {
      await admin.close();
    }
    return terminated;
  })();
  return {
    done,
    stop() {
      stopped = true;
      return done;
    },
  };
}

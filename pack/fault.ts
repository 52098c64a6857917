/**
 * Fault injection for crash tests: `DES_FAULT_KILL_AT=<state>[:<n>]` makes the
 * packer kill itself with SIGKILL right after the n-th (default: first)
 * write-ahead transition into `<state>` has been recorded. A testing aid only;
 * it is inert when the variable is unset.
 *
 * @module
 */

import { DesConfigError } from "../core/errors.ts";
import { CONTAINER_STATES, type ContainerState } from "../db/container_states.ts";

/** A parsed `DES_FAULT_KILL_AT` value. */
export interface KillPoint {
  /** State whose recorded transition triggers the kill. */
  state: ContainerState;
  /** Which transition into `state` (1-based). */
  nth: number;
}

/** Parse `<state>[:<n>]`; `undefined` for an empty value. Throws `DesConfigError` when malformed. */
export function parseKillPoint(raw: string | undefined): KillPoint | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  const m = /^([a-z_]+)(?::(\d+))?$/.exec(raw.trim());
  const state = m?.[1] as ContainerState | undefined;
  const nth = m?.[2] === undefined ? 1 : Number(m[2]);
  if (!m || !state || !CONTAINER_STATES.includes(state) || nth < 1) {
    throw new DesConfigError(
      `DES_FAULT_KILL_AT=${JSON.stringify(raw)}: expected <state>[:<n>] with state one of ${
        CONTAINER_STATES.join(", ")
      } and n ≥ 1`,
      { value: raw },
    );
  }
  return { state, nth };
}

/** Called after every recorded transition; kills the process at the configured point. */
export type TransitionObserver = (state: ContainerState) => void;

/**
 * An observer that SIGKILLs this process at `point` (a no-op observer when
 * `point` is undefined).
 */
export function killAt(point: KillPoint | undefined): TransitionObserver {
  if (!point) return () => {};
  let seen = 0;
  return (state) => {
    if (state !== point.state) return;
    seen++;
    if (seen === point.nth) Deno.kill(Deno.pid, "SIGKILL");
  };
}

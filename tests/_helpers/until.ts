/**
 * Wait for a condition that another part of the system makes true
 * asynchronously (a NOTIFY followed, a log line written).
 *
 * @module
 */

/** Resolve once `check` is true (polled every 25 ms); throw `what` after `ms`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

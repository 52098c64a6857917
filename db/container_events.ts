/**
 * Subscribing to committed containers: the `des_container_committed` NOTIFY
 * raised by a trigger on `des_containers` whenever a container's state
 * becomes `committed` (see db/migrations/0001_init.sql).
 *
 * @module
 */

import type { Db } from "./db.ts";
import { CONTAINER_COMMITTED_CHANNEL, type ContainerCommitted } from "./containers.ts";

/**
 * Call `onCommitted` for every container committed from now on. Payloads that
 * are not valid events are ignored. Returns the function that unsubscribes.
 */
export function onContainerCommitted(
  db: Db,
  onCommitted: (event: ContainerCommitted) => void,
): Promise<() => Promise<void>> {
  return db.listen(CONTAINER_COMMITTED_CHANNEL, (payload) => {
    let event: unknown;
    try {
      event = JSON.parse(payload);
    } catch {
      return;
    }
    const { shard, containerId } = event as Partial<ContainerCommitted>;
    if (typeof shard === "number" && typeof containerId === "string") {
      onCommitted({ shard, containerId });
    }
  });
}

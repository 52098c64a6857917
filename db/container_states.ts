/**
 * The write-ahead states of a container and the transitions between them.
 *
 * ```
 * building → uploaded → verified → committed → parent_updated → sources_released
 *     ↘          ↘          ↘                          ↘                 ↙
 *      aborted    aborted    aborted                      retired → deleted
 * ```
 *
 * Readers see a container from `committed` on; a visible container is never
 * aborted. Compaction retires a settled container once its replacement is
 * committed (readers stop using it) and deletes its object after a grace
 * period (`deleted`: the row stays as the record).
 *
 * @module
 */

/** Every state, in pipeline order. */
export const CONTAINER_STATES = [
  "building",
  "uploaded",
  "verified",
  "committed",
  "parent_updated",
  "sources_released",
  "aborted",
  "retired",
  "deleted",
] as const;

/** A container's state. */
export type ContainerState = typeof CONTAINER_STATES[number];

/** States in which readers may use a container. */
export const VISIBLE_STATES: readonly ContainerState[] = [
  "committed",
  "parent_updated",
  "sources_released",
];

const NEXT: Record<ContainerState, readonly ContainerState[]> = {
  building: ["uploaded", "aborted"],
  uploaded: ["verified", "aborted"],
  verified: ["committed", "aborted"],
  committed: ["parent_updated"],
  parent_updated: ["sources_released", "retired"],
  sources_released: ["retired"],
  aborted: [],
  retired: ["deleted"],
  deleted: [],
};

/** Whether `to` may follow `from`. */
export function canTransition(from: ContainerState, to: ContainerState): boolean {
  return NEXT[from]?.includes(to) ?? false;
}

/** Whether `value` names a container state. */
export function isContainerState(value: unknown): value is ContainerState {
  return (CONTAINER_STATES as readonly unknown[]).includes(value);
}

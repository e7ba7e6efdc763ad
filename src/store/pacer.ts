/**
 * Keeps the writes to each partition under a rate, by making a write that would exceed it
 * wait for its turn (the client's side of Table Storage's throttling). Table Storage targets
 * 2,000 entities a second for one partition and answers 503 Server Busy beyond it; an
 * entity-group transaction saves round trips, not partition work: each of its entities counts.
 * A burst from one process (the evaluation of 10,000 relays, all of whose checks are in one
 * partition) is better spaced here than retried with back-off after the service refuses it.
 *
 * A write that keeps under the rate never waits. The rate is per process: it does not know
 * about other instances' writes.
 */
export class PartitionPacer {
  /** When each partition's next entity may go (performance.now() milliseconds). */
  private readonly next = new Map<string, number>();
  private readonly msPerEntity: number;

  constructor(
    readonly entitiesPerSecond: number,
    private readonly clock: () => number = () => performance.now(),
  ) {
    if (!(entitiesPerSecond > 0)) throw new RangeError(`entitiesPerSecond must be positive, not ${entitiesPerSecond}`);
    this.msPerEntity = 1000 / entitiesPerSecond;
  }

  /** Waits until `entities` more writes to `partition` keep it under the rate, and counts them. */
  async admit(partition: string, entities: number): Promise<void> {
    const wait = this.reserve(partition, entities);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  /** Books the entities and says how long to wait before sending them (ms). */
  reserve(partition: string, entities: number): number {
    const now = this.clock();
    const start = Math.max(now, this.next.get(partition) ?? now);
    this.next.set(partition, start + entities * this.msPerEntity);
    // Drop partitions that went quiet, so the map stays as small as the set of busy ones.
    if (this.next.size > 1000) for (const [p, t] of this.next) if (t < now) this.next.delete(p);
    return start - now;
  }
}

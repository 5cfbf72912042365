package dev.raftvertx.core;

import java.util.ArrayDeque;

/**
 * The leader's view of one follower (§5.3 nextIndex/matchIndex), with the replication state
 * machine of etcd's {@code tracker}: PROBE sends one AppendEntries at a time until the follower's
 * log position is found; REPLICATE streams pipelined AppendEntries, bounded in count and bytes;
 * SNAPSHOT waits while the driver transfers a snapshot, because the follower needs entries that
 * the leader's log no longer holds (§7).
 */
final class Progress {

  enum State { PROBE, REPLICATE, SNAPSHOT }

  /** Highest index known to be replicated (and durable) on the follower. */
  long match;
  /** Index of the next entry to send. */
  long next;
  State state = State.PROBE;
  /** In PROBE: an AppendEntries is out and we wait for its answer or the next heartbeat. */
  boolean probeSent;
  /** Heard from since the last check-quorum period. */
  boolean recentActive;
  /** In SNAPSHOT: the index of the snapshot being transferred. */
  long pendingSnapshot;
  /** Highest heartbeat round the follower acknowledged (ReadIndex). */
  long ackedRound;
  /** In REPLICATE: last index and byte size of each AppendEntries in flight, oldest first. */
  private final ArrayDeque<long[]> inflight = new ArrayDeque<>();
  private long inflightBytes;

  Progress(long next) {
    this.next = next;
  }

  void becomeProbe() {
    state = State.PROBE;
    pendingSnapshot = 0;
    probeSent = false;
    inflight.clear();
    inflightBytes = 0;
  }

  void becomeSnapshot(long snapshotIndex) {
    becomeProbe();
    state = State.SNAPSHOT;
    pendingSnapshot = snapshotIndex;
  }

  void becomeReplicate() {
    state = State.REPLICATE;
    next = match + 1;
    inflight.clear();
    inflightBytes = 0;
  }

  boolean inflightFull(int maxMessages, long maxBytes) {
    return inflight.size() >= maxMessages || inflightBytes >= maxBytes;
  }

  int inflightCount() {
    return inflight.size();
  }

  void addInflight(long lastIndex, long bytes) {
    inflight.addLast(new long[] {lastIndex, bytes});
    inflightBytes += bytes;
  }

  /** Frees every in-flight message whose last index is at or below index. */
  void freeInflightTo(long index) {
    while (!inflight.isEmpty() && inflight.peekFirst()[0] <= index) {
      inflightBytes -= inflight.removeFirst()[1];
    }
  }

  /** Frees the oldest in-flight message (its answer was probably lost). */
  void freeFirstInflight() {
    if (!inflight.isEmpty()) {
      inflightBytes -= inflight.removeFirst()[1];
    }
  }

  /**
   * Records a success.
   *
   * @return true if match advanced
   */
  boolean maybeUpdate(long index) {
    boolean updated = false;
    if (index > match) {
      match = index;
      updated = true;
    }
    if (next < index + 1) {
      next = index + 1;
    }
    return updated;
  }
}

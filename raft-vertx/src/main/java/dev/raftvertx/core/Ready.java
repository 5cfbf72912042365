package dev.raftvertx.core;

import java.util.List;

/**
 * Everything the core asks of its driver since the last {@link RaftCore#ready()} call. The driver
 * sends {@code messages} (in any order, fire-and-forget), starts {@code writes} in order, applies
 * {@code committed} in order, answers {@code reads} once applied up to their index, and fails
 * {@code failedReads}.
 *
 * @param messages messages to send now (those promising durability were held until it was reached)
 * @param writes storage writes to make durable, in sequence order
 * @param committed newly committed entries, in index order, to apply
 * @param reads reads confirmed by a heartbeat round
 * @param failedReads ids of reads that cannot be served (leadership lost or no leader)
 * @param forwarded outcomes of proposals forwarded to the leader with {@link RaftCore#forward}
 * @param snapshot a snapshot the follower installed, or null: restore the state machine from it
 *     before applying {@code committed}, which continue after its index
 */
public record Ready(List<Message> messages, List<StorageWrite> writes, List<LogEntry> committed,
    List<ReadState> reads, List<Long> failedReads, List<Forwarded> forwarded,
    SnapshotRestore snapshot) {

  /**
   * A snapshot to restore the state machine from (§7): the follower's core installed it.
   *
   * @param index the snapshot's last included index; the state machine continues after it
   * @param term the term of that entry
   */
  public record SnapshotRestore(long index, long term) {
  }

  /**
   * The leader's answer to a forwarded proposal.
   *
   * @param requestId the id given to {@link RaftCore#forward}
   * @param result where the leader appended it, or why it refused
   */
  public record Forwarded(long requestId, ProposeResult result) {
  }

  /** @return true if there is nothing to do */
  public boolean isEmpty() {
    return messages.isEmpty() && writes.isEmpty() && committed.isEmpty() && reads.isEmpty()
        && failedReads.isEmpty() && forwarded.isEmpty() && snapshot == null;
  }
}

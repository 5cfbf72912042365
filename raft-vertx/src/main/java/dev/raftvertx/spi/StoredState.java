package dev.raftvertx.spi;

import dev.raftvertx.core.HardState;
import dev.raftvertx.core.LogEntry;
import java.util.List;
import java.util.Objects;

/**
 * What {@link RaftStorage#open} recovered: the node's identity, its durable term and vote, and its
 * durable log. Immutable.
 *
 * <p>After log compaction the log no longer starts at index 1: the entries before
 * {@code firstIndex} are covered by a snapshot, and the node combines the latest snapshot with
 * these entries. The entries may begin at or below the snapshot's last included index (a
 * compaction deletes whole segments only); the node keeps those after the snapshot.
 *
 * @param clusterId the cluster the data directory belongs to
 * @param nodeId the node the data directory belongs to
 * @param hardState the durable term and vote ({@link HardState#INITIAL} on first use)
 * @param firstIndex the index of the first entry of {@code entries}; when {@code entries} is
 *     empty, the index the next appended entry must have after a {@link RaftStorage#reset} or a
 *     compaction, or 1 for a log that has never been compacted or reset
 * @param entries the durable log entries, contiguous and in index order, starting at
 *     {@code firstIndex} (empty on first use)
 */
public record StoredState(String clusterId, String nodeId, HardState hardState, long firstIndex,
    List<LogEntry> entries) {

  public StoredState {
    Objects.requireNonNull(clusterId, "clusterId");
    Objects.requireNonNull(nodeId, "nodeId");
    Objects.requireNonNull(hardState, "hardState");
    entries = List.copyOf(entries);
    if (firstIndex < 1) {
      throw new IllegalArgumentException("firstIndex must be at least 1: " + firstIndex);
    }
    if (!entries.isEmpty() && entries.get(0).index() != firstIndex) {
      throw new IllegalArgumentException("the entries start at index " + entries.get(0).index()
          + ", not at firstIndex " + firstIndex);
    }
  }

  /**
   * A state whose log starts at its first entry, or at index 1 if it has none.
   *
   * @param clusterId the cluster the data directory belongs to
   * @param nodeId the node the data directory belongs to
   * @param hardState the durable term and vote
   * @param entries the durable log entries, contiguous and in index order
   */
  public StoredState(String clusterId, String nodeId, HardState hardState,
      List<LogEntry> entries) {
    this(clusterId, nodeId, hardState, entries.isEmpty() ? 1 : entries.get(0).index(), entries);
  }
}

package dev.raftvertx.spi;

import dev.raftvertx.core.HardState;
import dev.raftvertx.core.LogEntry;
import java.util.List;
import java.util.Objects;

/**
 * What {@link RaftStorage#open} recovered: the node's identity, its durable term and vote, and its
 * durable log. Immutable.
 *
 * @param clusterId the cluster the data directory belongs to
 * @param nodeId the node the data directory belongs to
 * @param hardState the durable term and vote ({@link HardState#INITIAL} on first use)
 * @param entries the durable log entries, contiguous and in index order (empty on first use)
 */
public record StoredState(String clusterId, String nodeId, HardState hardState,
    List<LogEntry> entries) {

  public StoredState {
    Objects.requireNonNull(clusterId, "clusterId");
    Objects.requireNonNull(nodeId, "nodeId");
    Objects.requireNonNull(hardState, "hardState");
    entries = List.copyOf(entries);
  }
}

package dev.raftvertx;

/**
 * Live counters and gauges of one node, readable from any thread without going through the node's
 * context: cheap enough for a metrics scrape or a status page several times a second. Counters
 * count from the node's start; gauges are refreshed by the node on every tick of its logical clock
 * (so they may lag by one tick). {@link dev.raftvertx.metrics.RaftMetrics} publishes them as
 * Micrometer meters.
 */
public interface NodeStats {

  /** @return the current term (refreshed each tick) */
  long term();

  /** @return the current role, as in {@link NodeStatus#role()} (refreshed each tick) */
  String role();

  /** @return the commit index (refreshed each tick) */
  long commitIndex();

  /** @return the index last applied to the state machine (refreshed each tick) */
  long appliedIndex();

  /** @return the index of the last log entry (refreshed each tick) */
  long lastIndex();

  /** @return the number of entries held in the in-memory log (refreshed each tick) */
  long logEntries();

  /** @return the size of the held log entries in bytes, headers included (refreshed each tick) */
  long logBytes();

  /** @return proposals submitted on this node that were committed and applied */
  long proposalsCommitted();

  /** @return proposals submitted on this node that failed (refused, timed out, lost leader ...) */
  long proposalsFailed();

  /**
   * @return the summed latency, in nanoseconds, of the proposals counted by
   *     {@link #proposalsCommitted()} (from submission to the applied result); divide the change
   *     of this value by the change of that count for the mean latency over an interval
   */
  long proposalLatencyNanos();

  /** @return storage writes made durable (each a batch; the storage groups their fsyncs) */
  long storageWrites();

  /** @return the summed time, in nanoseconds, from handing a write to storage until durable */
  long storageWriteNanos();

  /** @return entries in the storage writes counted by {@link #storageWrites()} */
  long storageWriteEntries();

  /** @return AppendEntries requests sent, heartbeats included */
  long appendEntriesSent();

  /** @return AppendEntries responses received that refused this node's request (log mismatch) */
  long appendEntriesRejected();

  /** @return elections started: times this node became a candidate in a new term */
  long electionsStarted();

  /** @return elections won: times this node became leader */
  long electionsWon();

  /** @return snapshots taken (0 while the node takes none) */
  long snapshots();

  /** @return the summed duration of those snapshots in nanoseconds */
  long snapshotNanos();

  /**
   * @param peer a follower's id
   * @return on the leader, how many entries that follower lacks (last index minus its match
   *     index, refreshed every few ticks); -1 when this node is not leading or the peer is unknown
   */
  long replicationLag(String peer);
}

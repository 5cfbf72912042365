package dev.raftvertx.core;

/**
 * The state Raft requires to be durable before answering an RPC (§5, Figure 2), besides the log.
 *
 * @param currentTerm the latest term this node has seen
 * @param votedFor the candidate that received this node's vote in {@code currentTerm}, or null
 */
public record HardState(long currentTerm, String votedFor) {

  /** The state of a node that has never run. */
  public static final HardState INITIAL = new HardState(0, null);

  public HardState {
    if (currentTerm < 0) {
      throw new IllegalArgumentException("currentTerm must be >= 0: " + currentTerm);
    }
  }
}

package dev.raftvertx.core;

import java.util.Objects;

/**
 * Settings of one {@link RaftCore}. Time is counted in ticks: the driver calls
 * {@link RaftCore#tick()} at a fixed period, so a tick of 10 ms with {@code electionTicks} 15 gives
 * randomized election timeouts of 150-300 ms.
 *
 * @param nodeId this node's id
 * @param electionTicks minimum election timeout; each timeout is drawn from
 *     [electionTicks, 2 * electionTicks) (§5.2)
 * @param heartbeatTicks how often a leader sends heartbeats; must be below electionTicks
 * @param preVote run a pre-vote round before raising the term (thesis §9.6)
 * @param checkQuorum a leader steps down when it has not heard from a quorum for an election
 *     timeout, and a follower that heard from a leader within the minimum election timeout ignores
 *     vote requests (§6's guard against disruptive servers)
 * @param maxInflightMessages AppendEntries in flight per follower while replicating (pipelining)
 * @param maxInflightBytes bytes of entries in flight per follower
 * @param maxMessageBytes entry bytes per AppendEntries (at least one entry is always sent)
 * @param maxUncommittedEntries appended but uncommitted entries a leader accepts before refusing
 *     proposals as overloaded
 * @param maxEntryBytes largest payload of one proposal
 */
public record CoreConfig(String nodeId, int electionTicks, int heartbeatTicks, boolean preVote,
    boolean checkQuorum, int maxInflightMessages, long maxInflightBytes, long maxMessageBytes,
    int maxUncommittedEntries, int maxEntryBytes) {

  public CoreConfig {
    Objects.requireNonNull(nodeId, "nodeId");
    if (heartbeatTicks < 1 || electionTicks <= heartbeatTicks) {
      throw new IllegalArgumentException(
          "need 1 <= heartbeatTicks < electionTicks, got " + heartbeatTicks + ", " + electionTicks);
    }
    if (maxInflightMessages < 1 || maxInflightBytes < 1 || maxMessageBytes < 1
        || maxUncommittedEntries < 1 || maxEntryBytes < 1) {
      throw new IllegalArgumentException("limits must be positive");
    }
  }

  /**
   * @param nodeId this node's id
   * @return the defaults: 15/5 ticks, pre-vote and check-quorum on, 256 messages and 64 MiB in
   *     flight per follower, 1 MiB per message, 100,000 uncommitted entries, 1 MiB entries
   */
  public static CoreConfig defaults(String nodeId) {
    return new CoreConfig(nodeId, 15, 5, true, true, 256, 64L << 20, 1L << 20, 100_000, 1 << 20);
  }

  /**
   * @param electionTicks new value
   * @param heartbeatTicks new value
   * @return a copy with other timeouts
   */
  public CoreConfig withTicks(int electionTicks, int heartbeatTicks) {
    return new CoreConfig(nodeId, electionTicks, heartbeatTicks, preVote, checkQuorum,
        maxInflightMessages, maxInflightBytes, maxMessageBytes, maxUncommittedEntries, maxEntryBytes);
  }

  /**
   * @param preVote new value
   * @param checkQuorum new value
   * @return a copy with pre-vote and check-quorum set
   */
  public CoreConfig withElectionGuards(boolean preVote, boolean checkQuorum) {
    return new CoreConfig(nodeId, electionTicks, heartbeatTicks, preVote, checkQuorum,
        maxInflightMessages, maxInflightBytes, maxMessageBytes, maxUncommittedEntries, maxEntryBytes);
  }

  /**
   * @param maxInflightMessages new value
   * @param maxInflightBytes new value
   * @param maxMessageBytes new value
   * @return a copy with other replication limits
   */
  public CoreConfig withReplicationLimits(int maxInflightMessages, long maxInflightBytes,
      long maxMessageBytes) {
    return new CoreConfig(nodeId, electionTicks, heartbeatTicks, preVote, checkQuorum,
        maxInflightMessages, maxInflightBytes, maxMessageBytes, maxUncommittedEntries, maxEntryBytes);
  }

  /**
   * @param maxUncommittedEntries new value
   * @param maxEntryBytes new value
   * @return a copy with other proposal limits
   */
  public CoreConfig withProposalLimits(int maxUncommittedEntries, int maxEntryBytes) {
    return new CoreConfig(nodeId, electionTicks, heartbeatTicks, preVote, checkQuorum,
        maxInflightMessages, maxInflightBytes, maxMessageBytes, maxUncommittedEntries, maxEntryBytes);
  }
}

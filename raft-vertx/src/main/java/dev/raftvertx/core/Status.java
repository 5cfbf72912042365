package dev.raftvertx.core;

import java.util.Map;

/**
 * A point-in-time picture of a core, for status pages, metrics and tests.
 *
 * @param id the node id
 * @param role current role
 * @param currentTerm current term
 * @param votedFor vote in the current term, or null
 * @param leaderId the leader this node follows (itself when leading), or null
 * @param commitIndex highest index known committed
 * @param lastIndex index of the last log entry
 * @param lastTerm term of the last log entry
 * @param persistedIndex highest index known durable locally
 * @param firstIndex index of the first entry held in the log
 * @param configuration the configuration in force (the newest in the log)
 * @param followers on the leader, each follower's replication state; empty otherwise
 */
public record Status(String id, Role role, long currentTerm, String votedFor, String leaderId,
    long commitIndex, long lastIndex, long lastTerm, long persistedIndex, long firstIndex,
    Configuration configuration, Map<String, FollowerStatus> followers) {

  /**
   * The leader's view of one follower.
   *
   * @param matchIndex highest index known replicated on it
   * @param nextIndex next index to send
   * @param replicating true when pipelining, false when probing for the match point
   */
  public record FollowerStatus(long matchIndex, long nextIndex, boolean replicating) {
  }
}

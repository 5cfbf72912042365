package dev.raftvertx;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.SortedSet;

/**
 * A point-in-time picture of one node, for status pages, health checks and metrics.
 *
 * @param id the node id
 * @param role "follower", "pre_candidate", "candidate" or "leader"; a halted node (see
 *     {@code error}) reports "follower", whatever role it had when it halted
 * @param term the current term
 * @param votedFor the vote in the current term, or null
 * @param leaderId the leader this node follows, or null (always null once halted)
 * @param commitIndex highest index known committed
 * @param lastApplied highest index applied to the state machine
 * @param lastIndex index of the last log entry
 * @param matchIndex on the leader, each follower's match index; empty otherwise (and once halted)
 * @param voters voting members (C_new while a joint configuration is in force)
 * @param outgoingVoters voting members of C_old while joint, else empty
 * @param learners non-voting members
 * @param error why the node halted (storage or state machine failure; it then serves nothing
 *     until restarted), or null while it runs
 * @param clusterId the cluster id (events are published at
 *     {@code raft.<clusterId>.<nodeId>.events})
 * @param nextIndex on the leader, the next index it will send each follower; empty otherwise
 * @param snapshotIndex index of the last entry covered by a snapshot (the log holds the entries
 *     after it); 0 while no snapshot exists
 */
public record NodeStatus(String id, String role, long term, String votedFor, String leaderId,
    long commitIndex, long lastApplied, long lastIndex, Map<String, Long> matchIndex,
    SortedSet<String> voters, SortedSet<String> outgoingVoters, SortedSet<String> learners,
    String error, String clusterId, Map<String, Long> nextIndex, long snapshotIndex) {

  /**
   * A status without the cluster id, next indexes and snapshot index (the first version of this
   * record).
   *
   * @param id the node id
   * @param role the role
   * @param term the current term
   * @param votedFor the vote in the current term, or null
   * @param leaderId the leader, or null
   * @param commitIndex the commit index
   * @param lastApplied the last applied index
   * @param lastIndex the last log index
   * @param matchIndex the leader's match index per follower
   * @param voters voters
   * @param outgoingVoters voters of C_old while joint
   * @param learners learners
   * @param error why the node halted, or null
   */
  public NodeStatus(String id, String role, long term, String votedFor, String leaderId,
      long commitIndex, long lastApplied, long lastIndex, Map<String, Long> matchIndex,
      SortedSet<String> voters, SortedSet<String> outgoingVoters, SortedSet<String> learners,
      String error) {
    this(id, role, term, votedFor, leaderId, commitIndex, lastApplied, lastIndex, matchIndex,
        voters, outgoingVoters, learners, error, null, Map.of(), 0);
  }

  /** @return true if this node is the leader */
  public boolean isLeader() {
    return "leader".equals(role);
  }

  /** @return the status as JSON (the sample app's {@code GET /status}) */
  public JsonObject toJson() {
    JsonObject match = new JsonObject();
    matchIndex.forEach(match::put);
    JsonObject next = new JsonObject();
    nextIndex.forEach(next::put);
    return new JsonObject()
        .put("id", id)
        .put("role", role)
        .put("term", term)
        .put("votedFor", votedFor)
        .put("leaderId", leaderId)
        .put("commitIndex", commitIndex)
        .put("lastApplied", lastApplied)
        .put("lastIndex", lastIndex)
        .put("matchIndex", match)
        .put("configuration", new JsonObject()
            .put("voters", new JsonArray(java.util.List.copyOf(voters)))
            .put("outgoingVoters", new JsonArray(java.util.List.copyOf(outgoingVoters)))
            .put("learners", new JsonArray(java.util.List.copyOf(learners))))
        .put("error", error)
        .put("clusterId", clusterId)
        .put("nextIndex", next)
        .put("snapshotIndex", snapshotIndex);
  }
}

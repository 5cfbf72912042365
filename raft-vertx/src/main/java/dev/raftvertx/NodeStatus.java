package dev.raftvertx;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.SortedSet;

/**
 * A point-in-time picture of one node, for status pages, health checks and metrics.
 *
 * @param id the node id
 * @param role "follower", "pre_candidate", "candidate" or "leader"
 * @param term the current term
 * @param votedFor the vote in the current term, or null
 * @param leaderId the leader this node follows, or null
 * @param commitIndex highest index known committed
 * @param lastApplied highest index applied to the state machine
 * @param lastIndex index of the last log entry
 * @param matchIndex on the leader, each follower's match index; empty otherwise
 * @param voters voting members (C_new while a joint configuration is in force)
 * @param outgoingVoters voting members of C_old while joint, else empty
 * @param learners non-voting members
 * @param error why the node halted, or null while it runs
 */
public record NodeStatus(String id, String role, long term, String votedFor, String leaderId,
    long commitIndex, long lastApplied, long lastIndex, Map<String, Long> matchIndex,
    SortedSet<String> voters, SortedSet<String> outgoingVoters, SortedSet<String> learners,
    String error) {

  /** @return true if this node is the leader */
  public boolean isLeader() {
    return "leader".equals(role);
  }

  /** @return the status as JSON (the sample app's {@code GET /status}) */
  public JsonObject toJson() {
    JsonObject match = new JsonObject();
    matchIndex.forEach(match::put);
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
        .put("error", error);
  }
}

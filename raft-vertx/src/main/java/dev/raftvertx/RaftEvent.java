package dev.raftvertx;

import io.vertx.core.json.JsonObject;

/**
 * Something that happened on a node: its role, leader or term changed, or entries committed.
 * Delivered to {@link RaftNode#eventHandler} and published on the event bus at
 * {@code raft.<clusterId>.<nodeId>.events} as JSON.
 *
 * @param type "role", "leader", "term" or "commit" (the commit index advanced; at most one such
 *     event every 100 ms, the latest index, never skipping the last one)
 * @param nodeId the node
 * @param role its role after the event, lower case
 * @param term its term after the event
 * @param leaderId the leader it knows after the event, or null
 * @param commitIndex its commit index after the event
 * @param timeMillis wall-clock time of the event
 */
public record RaftEvent(String type, String nodeId, String role, long term, String leaderId,
    long commitIndex, long timeMillis) {

  /** @return the event as JSON */
  public JsonObject toJson() {
    return new JsonObject().put("type", type).put("nodeId", nodeId).put("role", role)
        .put("term", term).put("leaderId", leaderId).put("commitIndex", commitIndex)
        .put("time", timeMillis);
  }
}

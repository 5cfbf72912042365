package dev.raftvertx.core;

import java.util.Objects;

/**
 * One membership change asked of a leader (§6). Adding a voter is two changes: add it as a
 * learner, then promote it once it caught up. Changes to the voters go through a joint
 * configuration; changes to the learners alone do not need one.
 *
 * @param kind what to do
 * @param nodeId the member concerned
 * @param address its transport address (for {@link Kind#ADD_LEARNER}; otherwise ignored)
 */
public record MembershipChange(Kind kind, String nodeId, String address) {

  /** The kinds of change. */
  public enum Kind {
    /** Add a non-voting member that receives the log. */
    ADD_LEARNER,
    /** Make a learner a voter (through C_old,new). */
    PROMOTE,
    /** Remove a learner, or a voter (through C_old,new). */
    REMOVE
  }

  public MembershipChange {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(nodeId, "nodeId");
  }
}

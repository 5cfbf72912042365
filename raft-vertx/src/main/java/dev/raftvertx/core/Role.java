package dev.raftvertx.core;

/** The role a node plays in its current term (§5.1, plus pre-vote from thesis §9.6). */
public enum Role {
  /** Passive: answers leaders and candidates; campaigns when it hears nothing for a timeout. */
  FOLLOWER,
  /** Probing with pre-votes whether it could win, without raising its term. */
  PRE_CANDIDATE,
  /** Campaigning for leadership in a new term. */
  CANDIDATE,
  /** Handles proposals and reads and replicates the log. */
  LEADER;

  /** @return the role as a lower-case string, as the node status reports it */
  public String display() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}

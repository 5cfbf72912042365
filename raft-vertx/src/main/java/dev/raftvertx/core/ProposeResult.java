package dev.raftvertx.core;

/**
 * The answer of {@link RaftCore#propose}: either the (index, term) the entry was appended at, or
 * why it was refused. A refused proposal was not appended and will never be applied.
 *
 * @param status {@link Status#APPENDED} or the reason for refusal
 * @param index the entry's index when appended, else 0
 * @param term the entry's term when appended, else 0
 * @param leaderHint the leader this node knows of, or null (set when {@link Status#NOT_LEADER})
 */
public record ProposeResult(Status status, long index, long term, String leaderHint) {

  /** Outcome of a proposal. */
  public enum Status {
    /** Appended to the leader's log; the outcome follows when the index commits. */
    APPENDED,
    /** This node is not the leader. */
    NOT_LEADER,
    /** Too many uncommitted entries; retry later. */
    OVERLOADED,
    /** The payload is larger than the configured maximum. */
    TOO_LARGE,
    /** A leadership transfer is under way; retry shortly. */
    TRANSFERRING,
    /**
     * A membership change was refused: another is still in progress (a configuration entry above
     * the commit index, or a joint configuration in force), or this leader has not yet committed
     * an entry of its term.
     */
    CHANGE_IN_PROGRESS,
    /** A membership change was refused: it does not apply to the current configuration. */
    INVALID_CHANGE
  }

  static ProposeResult appended(long index, long term) {
    return new ProposeResult(Status.APPENDED, index, term, null);
  }

  static ProposeResult refused(Status status, String leaderHint) {
    return new ProposeResult(status, 0, 0, leaderHint);
  }

  /** @return true if the entry was appended */
  public boolean appended() {
    return status == Status.APPENDED;
  }
}

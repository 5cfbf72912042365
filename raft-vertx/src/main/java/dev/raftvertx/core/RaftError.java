package dev.raftvertx.core;

/**
 * Why a proposal or read did not succeed. Each value says whether the command is known not to have
 * been applied ({@link #knownNotApplied()}) or its outcome is unknown.
 */
public enum RaftError {
  /** Refused before appending: this node is not the leader. Not applied. */
  NOT_LEADER(true),
  /** Refused before appending: too many uncommitted entries. Not applied. */
  OVERLOADED(true),
  /** Refused before appending: the command is larger than allowed. Not applied. */
  TOO_LARGE(true),
  /** Refused before appending: a leadership transfer is under way. Not applied. */
  TRANSFERRING(true),
  /** A membership change was refused because another one is in progress. Not applied. */
  CHANGE_IN_PROGRESS(true),
  /** A membership change was refused because it does not fit the configuration. Not applied. */
  INVALID_CHANGE(true),
  /** Refused before appending: the node is stopping or stopped. Not applied. */
  STOPPED(true),
  /** Appended, but another entry was committed at its index: it never will be. Not applied. */
  DROPPED(true),
  /** Appended, then leadership was lost or the node stopped: it may or may not be applied. */
  INDETERMINATE(false),
  /** No answer in time: it may or may not be applied. */
  TIMEOUT(false),
  /** The command's session is unknown or has expired; it was not applied (thesis §6.3). */
  SESSION_EXPIRED(true),
  /** The sequence number was applied earlier and its result is no longer kept. Not applied again. */
  STALE_SEQUENCE(true);

  private final boolean knownNotApplied;

  RaftError(boolean knownNotApplied) {
    this.knownNotApplied = knownNotApplied;
  }

  /** @return true if the command was certainly not applied by this attempt */
  public boolean knownNotApplied() {
    return knownNotApplied;
  }

  /**
   * @param status a refusal from {@link RaftCore#propose}
   * @return the matching error
   */
  public static RaftError of(ProposeResult.Status status) {
    return switch (status) {
      case NOT_LEADER -> NOT_LEADER;
      case OVERLOADED -> OVERLOADED;
      case TOO_LARGE -> TOO_LARGE;
      case TRANSFERRING -> TRANSFERRING;
      case CHANGE_IN_PROGRESS -> CHANGE_IN_PROGRESS;
      case INVALID_CHANGE -> INVALID_CHANGE;
      case APPENDED -> throw new IllegalArgumentException("not a refusal");
    };
  }
}

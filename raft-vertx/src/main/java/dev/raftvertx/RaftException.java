package dev.raftvertx;

import dev.raftvertx.core.RaftError;
import io.vertx.core.VertxException;

/**
 * Why a proposal or read failed. {@link #error()} tells whether the command is known not to have
 * been applied ({@link RaftError#knownNotApplied()}): only then may a client without a session
 * retry it safely. {@link #leaderHint()} names the leader when one is known.
 */
public class RaftException extends VertxException {

  private final RaftError error;
  private final String leaderHint;

  /**
   * @param error the reason
   * @param leaderHint the leader this node knows of, or null
   * @param message a human-readable explanation
   */
  public RaftException(RaftError error, String leaderHint, String message) {
    super(message, true);
    this.error = error;
    this.leaderHint = leaderHint;
  }

  /**
   * @param error the reason
   * @param leaderHint the leader this node knows of, or null
   * @return an exception with a standard message for the error
   */
  public static RaftException of(RaftError error, String leaderHint) {
    return new RaftException(error, leaderHint, describe(error, leaderHint));
  }

  /** @return the reason */
  public RaftError error() {
    return error;
  }

  /** @return the known leader, or null */
  public String leaderHint() {
    return leaderHint;
  }

  /** @return true if the command was certainly not applied */
  public boolean knownNotApplied() {
    return error.knownNotApplied();
  }

  private static String describe(RaftError error, String leader) {
    return switch (error) {
      case NOT_LEADER -> leader == null ? "no leader is known; the command was not applied"
          : "not the leader (the leader is " + leader + "); the command was not applied";
      case OVERLOADED -> "too many uncommitted commands; the command was not applied, retry later";
      case TOO_LARGE -> "the command is larger than the configured maximum; it was not applied";
      case TRANSFERRING -> "a leadership transfer is under way; the command was not applied, retry";
      case STOPPED -> "the node is stopped; the command was not applied";
      case CHANGE_IN_PROGRESS -> "another membership change is in progress (or the leader has not"
          + " yet committed an entry of its term); this change was not applied, retry later";
      case INVALID_CHANGE -> "the membership change does not fit the current configuration; it"
          + " was not applied";
      case DROPPED -> "the command was overwritten by a new leader; it was not applied";
      case INDETERMINATE -> "leadership was lost after the command was appended; it may or may not"
          + " be applied";
      case TIMEOUT -> "no answer in time; the command may or may not be applied";
      case SESSION_EXPIRED -> "the client session is unknown or has expired; the command was not"
          + " applied; open a new session";
      case STALE_SEQUENCE -> "the sequence number was applied long ago and its result is no longer"
          + " kept; the command was not applied again";
    };
  }
}

package dev.raftvertx.client;

/**
 * A request the cluster refused or did not answer. {@link #knownNotApplied()} tells whether a
 * write is certainly not applied (safe to retry) or its outcome is unknown.
 */
public final class KvClientException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final int status;
  private final String code;
  private final boolean knownNotApplied;

  /**
   * @param status the HTTP status, or 0 if no answer came
   * @param code the server's error code ("NOT_LEADER", "TIMEOUT", ...) or null
   * @param knownNotApplied true if the request is certainly not applied
   * @param message what went wrong
   * @param cause the underlying failure, or null
   */
  public KvClientException(int status, String code, boolean knownNotApplied, String message,
      Throwable cause) {
    super(message, cause);
    this.status = status;
    this.code = code;
    this.knownNotApplied = knownNotApplied;
  }

  /** @return the HTTP status, or 0 if no answer came */
  public int status() {
    return status;
  }

  /** @return the server's error code, or null */
  public String code() {
    return code;
  }

  /** @return true if the request is certainly not applied; false if its outcome is unknown */
  public boolean knownNotApplied() {
    return knownNotApplied;
  }
}

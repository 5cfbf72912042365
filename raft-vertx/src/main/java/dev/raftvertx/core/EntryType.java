package dev.raftvertx.core;

/** What a {@link LogEntry} carries. */
public enum EntryType {
  /** A user command, applied to the state machine. */
  COMMAND,
  /** The empty entry a new leader appends at the start of its term (§8). */
  NOOP,
  /** A cluster configuration ({@link Configuration#encode()}); the first entry of every log is one. */
  CONFIG,
  /** Opens an exactly-once client session; the session id is this entry's index (thesis §6.3). */
  SESSION_OPEN;

  private static final EntryType[] VALUES = values();

  /**
   * @param ordinal the value of {@link #ordinal()}
   * @return the type with that ordinal
   * @throws IllegalArgumentException if there is none
   */
  public static EntryType ofOrdinal(int ordinal) {
    if (ordinal < 0 || ordinal >= VALUES.length) {
      throw new IllegalArgumentException("unknown entry type " + ordinal);
    }
    return VALUES[ordinal];
  }
}

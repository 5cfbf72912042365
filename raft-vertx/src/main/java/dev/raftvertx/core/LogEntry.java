package dev.raftvertx.core;

import java.util.Arrays;
import java.util.Objects;

/**
 * One entry of the replicated log. Immutable.
 *
 * @param index the entry's position in the log, from 1
 * @param term the leader's term when the entry was created
 * @param type what the entry carries
 * @param session the exactly-once session of a {@link EntryType#COMMAND}, or 0 for none
 * @param sequence the per-session sequence number of the command (grows per session), 0 for none
 * @param timestamp milliseconds stamped by the leader that created the entry; the only notion of
 *     time the replicated state sees (session expiry), identical on every node
 * @param data the payload; never null (an empty array for none). Callers must not modify it.
 */
public record LogEntry(long index, long term, EntryType type, long session, long sequence,
    long timestamp, byte[] data) {

  private static final byte[] EMPTY = new byte[0];

  /** Fixed per-entry overhead counted by {@link #sizeInBytes()} for the header fields. */
  public static final int HEADER_BYTES = 8 + 8 + 1 + 8 + 8 + 8 + 4;

  public LogEntry {
    if (index < 1) {
      throw new IllegalArgumentException("index must be >= 1: " + index);
    }
    if (term < 0) {
      throw new IllegalArgumentException("term must be >= 0: " + term);
    }
    Objects.requireNonNull(type, "type");
    data = data == null ? EMPTY : data;
  }

  /** @return the entry's size as counted against byte limits (header plus payload) */
  public int sizeInBytes() {
    return HEADER_BYTES + data.length;
  }

  /**
   * @param newIndex the index the copy gets
   * @param newTerm the term the copy gets
   * @return a copy of this entry at another index and term (the leader stamps proposals)
   */
  public LogEntry withPosition(long newIndex, long newTerm) {
    return new LogEntry(newIndex, newTerm, type, session, sequence, timestamp, data);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof LogEntry e && e.index == index && e.term == term && e.type == type
        && e.session == session && e.sequence == sequence && e.timestamp == timestamp
        && Arrays.equals(e.data, data);
  }

  @Override
  public int hashCode() {
    return Objects.hash(index, term, type, session, sequence, timestamp) * 31 + Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "LogEntry{" + index + "@" + term + " " + type
        + (session != 0 ? " s" + session + "#" + sequence : "") + " " + data.length + "B}";
  }
}

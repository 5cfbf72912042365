package dev.raftvertx.spi;

import dev.raftvertx.core.Configuration;
import java.util.Arrays;
import java.util.Objects;

/**
 * What a snapshot is: the last log entry it includes (index and term), the cluster configuration
 * in force at that index (with the members' addresses, so a node restored from it knows its
 * cluster), the exactly-once session table at that index (so a retried command the snapshot
 * covers is answered from the cache instead of applied twice), and the size and CRC32C checksum
 * of the state machine's data. Immutable (the session bytes are copied in and out).
 *
 * <p>A snapshot being taken is described by a <em>partial</em> meta ({@link #of}) whose size is
 * {@link #UNKNOWN_SIZE}: the store fills in size and checksum when the snapshot is committed. A
 * snapshot received from a leader is described by the leader's complete meta, against which the
 * received data is checked.
 *
 * @param index the index of the last log entry the snapshot includes, at least 1
 * @param term the term of that entry
 * @param configuration the configuration in force at {@code index} (the newest configuration entry
 *     at or below it, committed or not)
 * @param sessions the session table at {@code index}, as encoded by
 *     {@link dev.raftvertx.core.Applier#snapshotSessions()}
 * @param size the length of the state machine's data in bytes, or {@link #UNKNOWN_SIZE}
 * @param checksum the CRC32C of the state machine's data (meaningless while the size is unknown)
 */
public record SnapshotMeta(long index, long term, Configuration configuration, byte[] sessions,
    long size, int checksum) {

  /** The size of a snapshot whose data is still being written. */
  public static final long UNKNOWN_SIZE = -1;

  public SnapshotMeta {
    if (index < 1) {
      throw new IllegalArgumentException("a snapshot's index must be at least 1: " + index);
    }
    if (term < 0) {
      throw new IllegalArgumentException("a snapshot's term must not be negative: " + term);
    }
    Objects.requireNonNull(configuration, "configuration");
    sessions = Objects.requireNonNull(sessions, "sessions").clone();
    if (size < UNKNOWN_SIZE) {
      throw new IllegalArgumentException("a snapshot's size must be UNKNOWN_SIZE or not negative: "
          + size);
    }
    if (size == UNKNOWN_SIZE) {
      checksum = 0;
    }
  }

  /**
   * The meta of a snapshot about to be taken, whose data size and checksum are not known yet.
   *
   * @param index the index of the last log entry the snapshot includes (the applied index)
   * @param term the term of that entry
   * @param configuration the configuration in force at that index
   * @param sessions the session table at that index
   * @return a partial meta
   */
  public static SnapshotMeta of(long index, long term, Configuration configuration,
      byte[] sessions) {
    return new SnapshotMeta(index, term, configuration, sessions, UNKNOWN_SIZE, 0);
  }

  /** @return a copy of the encoded session table */
  @Override
  public byte[] sessions() {
    return sessions.clone();
  }

  /** @return true if the size and checksum of the data are known */
  public boolean complete() {
    return size != UNKNOWN_SIZE;
  }

  /**
   * @param size the data's length
   * @param checksum the data's CRC32C
   * @return this meta with the data's size and checksum
   */
  public SnapshotMeta withData(long size, int checksum) {
    if (size < 0) {
      throw new IllegalArgumentException("size must not be negative: " + size);
    }
    return new SnapshotMeta(index, term, configuration, sessions, size, checksum);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SnapshotMeta m && index == m.index && term == m.term && size == m.size
        && checksum == m.checksum && configuration.equals(m.configuration)
        && Arrays.equals(sessions, m.sessions);
  }

  @Override
  public int hashCode() {
    return Objects.hash(index, term, size, checksum, configuration, Arrays.hashCode(sessions));
  }

  @Override
  public String toString() {
    return "SnapshotMeta[index=" + index + ", term=" + term + ", configuration=" + configuration
        + ", sessions=" + sessions.length + " bytes, size=" + (complete() ? size : "unknown")
        + ", checksum=" + (complete() ? String.format("%08x", checksum) : "unknown") + "]";
  }
}

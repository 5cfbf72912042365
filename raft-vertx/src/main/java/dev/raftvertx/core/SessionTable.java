package dev.raftvertx.core;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Exactly-once client sessions as part of the replicated state (thesis §6.3). Every node applies
 * the same entries in the same order, so every node holds the same table: deduplication and
 * eviction depend only on the log (entry indexes and leader-stamped timestamps), never on a local
 * clock.
 *
 * <p>A session is opened by a {@link EntryType#SESSION_OPEN} entry; its id is that entry's index,
 * so ids are unique and an unknown id always means a session that expired (or never existed).
 * Each session keeps the results of its last {@code responseWindow} sequence numbers, so a client
 * may have that many commands in flight and retry any of them.
 *
 * <p>The table is part of every snapshot ({@link #encode()}, {@link #decode}): a node restored
 * from a snapshot must keep answering retries of commands the snapshot covers from the cache, and
 * must expire and evict sessions exactly when the other nodes do.
 *
 * <p>Not thread-safe.
 */
final class SessionTable {

  /** The version of {@link #encode()}'s format. */
  private static final int FORMAT = 1;

  private final long timeoutMillis;
  private final int maxSessions;
  private final int responseWindow;
  /** Sessions in order of last activity (access order), oldest first. */
  private final LinkedHashMap<Long, Session> sessions = new LinkedHashMap<>(16, 0.75f, true);
  /** Highest leader timestamp applied: the replicated clock. */
  private long clock;

  static final class Session {
    final long id;
    long lastActive;
    /** Applied sequence numbers and their results, within the window. */
    final TreeMap<Long, Applied> responses = new TreeMap<>();
    /** Every sequence number at or below this was applied and forgotten. */
    long forgottenBelowOrAt;

    Session(long id, long lastActive) {
      this.id = id;
      this.lastActive = lastActive;
    }
  }

  /**
   * Where a command was applied and what it returned.
   *
   * @param index the entry index it was applied at
   * @param result the state machine's result
   */
  record Applied(long index, byte[] result) {
  }

  /** What a command's session says about applying it. */
  sealed interface Check {
  }

  /** Apply the command, then {@link #record} its result. */
  record Apply(Session session) implements Check {
  }

  /** Already applied: answer with where it was applied and the cached result. */
  record Duplicate(Applied applied) implements Check {
  }

  /** Do not apply: answer with this error. */
  record Refuse(RaftError error) implements Check {
  }

  SessionTable(long timeoutMillis, int maxSessions, int responseWindow) {
    this.timeoutMillis = timeoutMillis;
    this.maxSessions = maxSessions;
    this.responseWindow = responseWindow;
  }

  /** Advances the replicated clock with an applied entry's timestamp and expires idle sessions. */
  void advanceClock(long timestamp) {
    if (timestamp > clock) {
      clock = timestamp;
    }
    Iterator<Session> it = sessions.values().iterator();
    while (it.hasNext()) {
      Session s = it.next();
      if (clock - s.lastActive > timeoutMillis) {
        it.remove();
      } else {
        break; // access order: the rest were active more recently
      }
    }
  }

  /** Opens session {@code id} (the SESSION_OPEN entry's index). */
  void open(long id) {
    sessions.put(id, new Session(id, clock));
    while (sessions.size() > maxSessions) {
      Iterator<Long> it = sessions.keySet().iterator();
      it.next();
      it.remove();
    }
  }

  Check check(long sessionId, long sequence) {
    Session s = sessions.get(sessionId);
    if (s == null) {
      return new Refuse(RaftError.SESSION_EXPIRED);
    }
    s.lastActive = clock;
    Applied cached = s.responses.get(sequence);
    if (cached != null) {
      return new Duplicate(cached);
    }
    if (sequence <= s.forgottenBelowOrAt) {
      return new Refuse(RaftError.STALE_SEQUENCE);
    }
    return new Apply(s);
  }

  void record(Session s, long sequence, long index, byte[] result) {
    s.responses.put(sequence, new Applied(index, result));
    while (s.responses.size() > responseWindow) {
      Map.Entry<Long, Applied> oldest = s.responses.pollFirstEntry();
      s.forgottenBelowOrAt = Math.max(s.forgottenBelowOrAt, oldest.getKey());
    }
  }

  int size() {
    return sessions.size();
  }

  /**
   * Encodes the whole table: the replicated clock and every session, in order of last activity
   * (oldest first, which decides expiry and eviction), each with its cached results. Deterministic:
   * two tables built by applying the same entries encode to the same bytes. All integers are
   * big-endian:
   *
   * <pre>
   * format byte (1), clock long, session count int, then per session:
   *   id long, lastActive long, forgottenBelowOrAt long, result count int, then per result
   *   (in sequence order): sequence long, index long, result length int, result bytes
   * </pre>
   *
   * @return the encoded table
   */
  byte[] encode() {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      DataOutputStream out = new DataOutputStream(bytes);
      out.writeByte(FORMAT);
      out.writeLong(clock);
      out.writeInt(sessions.size());
      for (Session s : sessions.values()) {
        out.writeLong(s.id);
        out.writeLong(s.lastActive);
        out.writeLong(s.forgottenBelowOrAt);
        out.writeInt(s.responses.size());
        for (Map.Entry<Long, Applied> r : s.responses.entrySet()) {
          out.writeLong(r.getKey());
          out.writeLong(r.getValue().index());
          out.writeInt(r.getValue().result().length);
          out.write(r.getValue().result());
        }
      }
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new IllegalStateException("encoding into memory failed", e);
    }
  }

  /**
   * Rebuilds a table from {@link #encode()}'s bytes. The limits are this node's own (the same on
   * every node of a cluster); a table holding more than they allow is trimmed by the next entries
   * applied, as it would be on the node that encoded it.
   *
   * @param data the encoded table
   * @param timeoutMillis see the constructor
   * @param maxSessions see the constructor
   * @param responseWindow see the constructor
   * @return the table
   * @throws IllegalArgumentException if the bytes are not an encoded table
   */
  static SessionTable decode(byte[] data, long timeoutMillis, int maxSessions,
      int responseWindow) {
    SessionTable table = new SessionTable(timeoutMillis, maxSessions, responseWindow);
    try {
      DataInputStream in = new DataInputStream(new ByteArrayInputStream(data));
      int format = in.readUnsignedByte();
      if (format != FORMAT) {
        throw new IllegalArgumentException("unknown session table format " + format);
      }
      table.clock = in.readLong();
      int count = in.readInt();
      // Every session takes at least 28 bytes, every result at least 20: a count that the
      // remaining bytes cannot hold is damage, refused before it sizes anything.
      checkCount(count, in.available(), 28, "session");
      for (int i = 0; i < count; i++) {
        Session s = new Session(in.readLong(), in.readLong());
        s.forgottenBelowOrAt = in.readLong();
        int results = in.readInt();
        checkCount(results, in.available(), 20, "result");
        for (int j = 0; j < results; j++) {
          long sequence = in.readLong();
          long index = in.readLong();
          int length = in.readInt();
          checkCount(length, in.available(), 1, "result byte");
          byte[] result = new byte[length];
          in.readFully(result);
          if (s.responses.put(sequence, new Applied(index, result)) != null) {
            throw new IllegalArgumentException("session " + s.id + " caches sequence " + sequence
                + " twice");
          }
        }
        if (table.sessions.put(s.id, s) != null) {
          throw new IllegalArgumentException("session " + s.id + " appears twice");
        }
      }
      if (in.available() != 0) {
        throw new IllegalArgumentException(in.available()
            + " trailing bytes after the session table");
      }
    } catch (IOException e) {
      throw new IllegalArgumentException("malformed session table: " + e, e);
    }
    return table;
  }

  private static void checkCount(int count, int available, int minBytesEach, String what) {
    if (count < 0 || (long) count * minBytesEach > available) {
      throw new IllegalArgumentException("malformed session table: " + count + " " + what
          + "s in " + available + " remaining bytes");
    }
  }
}

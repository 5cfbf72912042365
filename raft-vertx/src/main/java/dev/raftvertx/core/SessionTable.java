package dev.raftvertx.core;

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
 * <p>Not thread-safe.
 */
final class SessionTable {

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
}

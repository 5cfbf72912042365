package dev.raftvertx.core;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;

/**
 * Applies committed entries to the user's state machine, deduplicates commands through the
 * replicated {@link SessionTable}, completes the proposals this node appended (tracked by index
 * and term), and runs reads once the state machine has caught up with their read index. Pure and
 * deterministic: the Vert.x node and the simulator both drive it.
 *
 * <p>Not thread-safe; confine to the thread that drives the {@link RaftCore}.
 */
public final class Applier {

  /** The user's state machine, reduced to bytes. */
  @FunctionalInterface
  public interface CommandHandler {
    /**
     * Applies a committed command. Must be deterministic: every node applies the same commands in
     * the same order and must reach the same state.
     *
     * @param index the command's log index
     * @param command the command
     * @return the result handed to the proposer (never null)
     */
    byte[] apply(long index, byte[] command);
  }

  /** Receives the outcome of one proposal. */
  public interface Completion {
    /**
     * @param index where the command was applied (for a deduplicated retry: where the first
     *     attempt was applied)
     * @param result the state machine's result (for a session open: the session id, 8 bytes)
     */
    void succeeded(long index, byte[] result);

    /** @param error why the proposal did not succeed */
    void failed(RaftError error);
  }

  private record Pending(long term, Completion completion) {
  }

  private record WaitingRead(long index, long order, Runnable action) {
  }

  /** Outcome of a recently applied entry, for proposals whose (index, term) arrives late. */
  private record Outcome(long term, long index, byte[] result, RaftError error) {
  }

  /** How many recent outcomes are kept for late {@link #track} calls. */
  private static final int RECENT_OUTCOMES = 4096;

  private final LinkedHashMap<Long, Outcome> recent = new LinkedHashMap<>() {
    @Override
    protected boolean removeEldestEntry(Map.Entry<Long, Outcome> eldest) {
      return size() > RECENT_OUTCOMES;
    }
  };

  private final CommandHandler handler;
  private final long sessionTimeoutMillis;
  private final int maxSessions;
  private final int responseWindow;
  /** Replaced as a whole when a snapshot is restored. */
  private SessionTable sessions;
  private final Map<Long, Pending> pending = new HashMap<>();
  private final PriorityQueue<WaitingRead> waitingReads = new PriorityQueue<>(
      (a, b) -> a.index != b.index ? Long.compare(a.index, b.index) : Long.compare(a.order, b.order));
  private long readOrder;
  private long appliedIndex;

  /**
   * @param handler the state machine
   * @param sessionTimeoutMillis a session idle longer than this (in leader-stamped time) expires
   * @param maxSessions most sessions kept; the least recently active one is evicted beyond it
   * @param responseWindow results kept per session (commands a client may have in flight)
   */
  public Applier(CommandHandler handler, long sessionTimeoutMillis, int maxSessions,
      int responseWindow) {
    this.handler = Objects.requireNonNull(handler);
    this.sessionTimeoutMillis = sessionTimeoutMillis;
    this.maxSessions = maxSessions;
    this.responseWindow = responseWindow;
    this.sessions = new SessionTable(sessionTimeoutMillis, maxSessions, responseWindow);
  }

  /** @return the index of the last applied entry */
  public long appliedIndex() {
    return appliedIndex;
  }

  /** @return the number of open sessions */
  public int sessionCount() {
    return sessions.size();
  }

  /**
   * Tracks a proposal appended at (index, term).
   *
   * @param index where {@link RaftCore#propose} appended it
   * @param term its term
   * @param completion told the outcome
   */
  public void track(long index, long term, Completion completion) {
    if (index > appliedIndex) {
      pending.put(index, new Pending(term, completion));
      return;
    }
    // Already applied (a forwarded proposal's answer can arrive after the entry itself).
    Outcome o = recent.get(index);
    if (o == null) {
      completion.failed(RaftError.INDETERMINATE);
    } else {
      complete(new Pending(term, completion), o.index(), o.term(), o.result(), o.error());
    }
  }

  private static void complete(Pending p, long index, long term, byte[] result, RaftError error) {
    if (p.term != term) {
      p.completion.failed(RaftError.DROPPED);
    } else if (error != null) {
      p.completion.failed(error);
    } else {
      p.completion.succeeded(index, result);
    }
  }

  /** @return the number of proposals awaiting their outcome */
  public int pendingCount() {
    return pending.size();
  }

  /**
   * Fails every tracked proposal; used when leadership is lost or the node stops, when their
   * outcome becomes unknown to this node.
   *
   * @param error usually {@link RaftError#INDETERMINATE}
   */
  public void failAll(RaftError error) {
    List<Pending> all = List.copyOf(pending.values());
    pending.clear();
    for (Pending p : all) {
      p.completion.failed(error);
    }
  }

  /**
   * Runs action once the applied index reaches index (at once if it already has).
   *
   * @param index the read index
   * @param action the read
   */
  public void whenApplied(long index, Runnable action) {
    if (appliedIndex >= index) {
      action.run();
    } else {
      waitingReads.add(new WaitingRead(index, readOrder++, action));
    }
  }

  /** Drops the waiting reads without running them (the node stops). */
  public void clearWaitingReads() {
    waitingReads.clear();
  }

  /**
   * Applies committed entries in order.
   *
   * @param committed entries from {@link Ready#committed()}
   */
  public void apply(List<LogEntry> committed) {
    for (LogEntry e : committed) {
      if (e.index() != appliedIndex + 1) {
        throw new IllegalStateException("apply out of order: " + e.index() + " after " + appliedIndex);
      }
      sessions.advanceClock(e.timestamp());
      byte[] result = null;
      RaftError error = null;
      long resultIndex = e.index();
      switch (e.type()) {
        case COMMAND -> {
          if (e.session() == 0) {
            result = handler.apply(e.index(), e.data());
          } else {
            SessionTable.Check check = sessions.check(e.session(), e.sequence());
            if (check instanceof SessionTable.Apply a) {
              result = handler.apply(e.index(), e.data());
              sessions.record(a.session(), e.sequence(), e.index(), result);
            } else if (check instanceof SessionTable.Duplicate d) {
              result = d.applied().result();
              resultIndex = d.applied().index();
            } else {
              error = ((SessionTable.Refuse) check).error();
            }
          }
        }
        case SESSION_OPEN -> {
          sessions.open(e.index());
          result = ByteBuffer.allocate(8).putLong(e.index()).array();
        }
        default -> result = new byte[0];
      }
      appliedIndex = e.index();
      if (e.type() == EntryType.COMMAND || e.type() == EntryType.SESSION_OPEN) {
        recent.put(e.index(), new Outcome(e.term(), resultIndex, result, error));
      }
      Pending p = pending.remove(e.index());
      if (p != null) {
        complete(p, resultIndex, e.term(), result, error);
      }
      while (!waitingReads.isEmpty() && waitingReads.peek().index <= appliedIndex) {
        waitingReads.poll().action.run();
      }
    }
  }

  /**
   * The exactly-once session table as of {@link #appliedIndex()}, for a snapshot taken at that
   * index: call it together with the state machine's snapshot, before the next {@link #apply}.
   * The encoding is deterministic (the same applied entries give the same bytes on every node)
   * and holds the replicated clock, every session in order of last activity and each session's
   * cached results.
   *
   * @return the encoded session table
   */
  public byte[] snapshotSessions() {
    return sessions.encode();
  }

  /**
   * Installs a snapshot's session table, once the state machine has been restored from that
   * snapshot: from now on this applier continues after {@code appliedIndex}, and a retried
   * command whose first attempt the snapshot covers is answered from the restored cache instead
   * of being applied again.
   *
   * <p>Proposals tracked at an index the snapshot covers fail with
   * {@link RaftError#INDETERMINATE} (this node cannot tell whether the entry at that index was
   * theirs); reads waiting for an index it covers run.
   *
   * @param appliedIndex the snapshot's last included index; not below {@link #appliedIndex()}
   * @param sessions bytes from {@link #snapshotSessions()} on the node that took the snapshot
   * @throws IllegalArgumentException if the index would go back or the bytes are not a session
   *     table; the applier is then unchanged
   */
  public void restore(long appliedIndex, byte[] sessions) {
    if (appliedIndex < this.appliedIndex) {
      throw new IllegalArgumentException("cannot restore a snapshot at index " + appliedIndex
          + ": entries up to " + this.appliedIndex + " are already applied");
    }
    this.sessions = SessionTable.decode(sessions, sessionTimeoutMillis, maxSessions,
        responseWindow);
    this.appliedIndex = appliedIndex;
    List<Long> covered = pending.keySet().stream().filter(i -> i <= appliedIndex).sorted()
        .toList();
    for (Long index : covered) {
      pending.remove(index).completion.failed(RaftError.INDETERMINATE);
    }
    while (!waitingReads.isEmpty() && waitingReads.peek().index <= appliedIndex) {
      waitingReads.poll().action.run();
    }
  }

  /**
   * @param result the result of a {@link EntryType#SESSION_OPEN} proposal
   * @return the session id
   */
  public static long sessionId(byte[] result) {
    return ByteBuffer.wrap(result).getLong();
  }

  /** @return the number of reads waiting for the state machine to catch up */
  public int waitingReadCount() {
    return waitingReads.size();
  }
}
